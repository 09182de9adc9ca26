"""``python -m services.waf.regress`` end to end against the session's real WAF (CRS PL4, detect)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.waf.regress.cli import main
from services.waf.regress.launcher import LaunchedWaf

VECTORS = Path(__file__).with_name("vectors")
pytestmark = pytest.mark.timeout(300)  # the first test may start the session WAF


def _args(waf: LaunchedWaf, path: Path, *extra: str) -> list[str]:
    return [str(path), "--waf", waf.url, "--match-log", str(waf.match_log), "--jobs", "1", *extra]


def test_go_ftw_file_passes(crs_waf: LaunchedWaf, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(_args(crs_waf, VECTORS / "go_ftw_format.yaml"))
    out = capsys.readouterr().out.splitlines()
    assert out == ["PASS 920350-1", "PASS 920350-2", "2 passed, 0 failed"]
    assert code == 0


def test_failures_are_listed_by_rule_and_exit_nonzero(crs_waf: LaunchedWaf, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "942100.yaml"
    f.write_text(
        "tests:\n"
        "  - test_title: 942100-1\n    stages:\n      - stage:\n"
        "          input: {headers: {Host: localhost}, uri: '/?q=hello'}\n"
        "          output: {log_contains: 'id \"942100\"'}\n"
        "  - test_title: 942100-2\n    stages:\n      - stage:\n"
        "          input: {headers: {Host: localhost}, uri: '/?q=hello'}\n"
        "          output: {no_log_contains: 'id \"942100\"'}\n")
    code = main(_args(crs_waf, f, "-q", "-v"))
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("FAIL 942100-1: log does not contain 'id \"942100\"' (request ")
    assert out[1] == r"    stage 1 request: b'GET /?q=hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'"
    assert out[-2:] == ["failures by rule: 942100: 1", "1 passed, 1 failed"]
    assert code == 1


def test_overrides_and_selection(crs_waf: LaunchedWaf, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("tests:\n  - test: 920350-2\n    reason: checks an Apache-only behaviour\n")
    code = main(_args(crs_waf, VECTORS / "go_ftw_format.yaml", "--overrides", str(overrides)))
    out = capsys.readouterr().out.splitlines()
    assert out == ["PASS 920350-1", "SKIP 920350-2: override: checks an Apache-only behaviour",
                   "1 passed, 0 failed, 1 skipped"]
    assert code == 0
    assert main(_args(crs_waf, VECTORS / "go_ftw_format.yaml", "--include=-2$", "--rule", "920350")) == 0
    assert capsys.readouterr().out.splitlines() == ["PASS 920350-2", "1 passed, 0 failed"]


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(VECTORS)]) == 2
    assert "--match-log FILE is required without --start" in capsys.readouterr().err
    assert main([str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err
    bad = tmp_path / "overrides.yaml"
    bad.write_text("tests:\n  - test: 920100-1\n")
    assert main([str(VECTORS), "--overrides", str(bad)]) == 2
    assert "needs 'test' and a non-empty 'reason'" in capsys.readouterr().err
