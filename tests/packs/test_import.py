"""`secchain rules import` from the installed CRS and ET Open (read in place, never copied into the repo)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.packs.cli import main as rules_main
from tests.packs.conftest import REPO

CRS = Path("/usr/share/modsecurity-crs")
ET = Path("/work/shared/et-open")


def _rule_lines(folder: Path) -> int:
    live = re.compile(r"^(?:alert|drop|reject|pass)\s", re.M)
    return sum(len(live.findall(p.read_text(encoding="utf-8", errors="replace"))) for p in folder.glob("*.rules"))


@pytest.mark.skipif(not ET.is_dir(), reason="ET Open rules not present at /work/shared/et-open")
def test_import_et_open_and_lint_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rules_main(["import", "--kind", "ips", "--from", str(ET), "--name", "et-open", "--version", "7.0.1",
                       "--into", str(tmp_path)]) == 0
    folder = tmp_path / "ips" / "et-open"
    assert sorted(p.name for p in folder.glob("*.rules")) == sorted(p.name for p in ET.glob("*.rules"))
    capsys.readouterr()
    rules_main(["lint", str(folder)])
    out = capsys.readouterr().out
    m = re.search(r"et-open@7\.0\.1: (\d+) rules load, (\d+) disabled by the engine \((.*)\), (\d+) do not parse, "
                  r"(\d+) commented out", out)
    assert m, out[-2000:]
    loaded, disabled, reasons, errors = int(m[1]), int(m[2]), m[3], int(m[4])
    assert loaded + disabled + errors == _rule_lines(ET)
    assert sum(int(n) for n in re.findall(r"(?:^|; )(\d+) ", reasons)) == disabled
    assert disabled == out.count("is not loaded:")


@pytest.mark.skipif(not (CRS / "rules").is_dir(), reason="modsecurity-crs not installed")
def test_import_crs_and_lint_regex_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rules_main(["import", "--kind", "waf", "--from", str(CRS), "--name", "crs", "--version", "3.3.0",
                       "--into", str(tmp_path)]) == 0
    folder = tmp_path / "waf" / "crs"
    confs = sorted(p.name for p in (CRS / "rules").glob("*.conf"))
    assert sorted(p.name for p in (folder / "rules").glob("*.conf")) == confs
    assert (folder / "rules" / "lfi-os-files.data").read_bytes() == (CRS / "rules" / "lfi-os-files.data").read_bytes()
    capsys.readouterr()
    rules_main(["lint", str(folder), "--notes"])
    out = capsys.readouterr().out
    notes = out.count("[regex-path]")
    line = next(x for x in out.splitlines() if "regex paths:" in x)
    assert sum(int(n) for n in re.findall(r"(\d+) on ", line)) == notes > 0
    assert "rule file is not valid" not in out and "Traceback" not in out


def test_import_refuses_the_repository_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.rules").write_text('alert tcp any any -> any any (msg:"x"; content:"x"; sid:1; rev:1;)\n')
    assert rules_main(["import", "--kind", "ips", "--from", str(source), "--name", "x", "--version", "1.0.0",
                       "--into", str(REPO / "rules")]) == 2
    assert "never copied into the repository" in capsys.readouterr().err
    assert not (REPO / "rules" / "ips" / "x").exists()
    assert rules_main(["import", "--kind", "ips", "--from", str(source), "--name", "x", "--version", "1.0",
                       "--into", str(tmp_path / "p")]) == 2
    assert rules_main(["import", "--kind", "ips", "--from", str(source), "--name", "x", "--version", "1.0.0",
                       "--into", str(tmp_path / "p")]) == 0
    assert rules_main(["import", "--kind", "ips", "--from", str(source), "--name", "x", "--version", "1.0.0",
                       "--into", str(tmp_path / "p")]) == 2
    assert rules_main(["lint", str(tmp_path / "p" / "ips" / "x")]) == 0
