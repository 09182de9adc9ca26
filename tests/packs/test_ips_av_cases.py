"""`secchain rules test` and `publish` for IPS and AV packs: the product's case runners, real engines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from services.packs.cli import main as rules_main
from shared.packs.manifest import load_manifest
from shared.packs.registry import PackRegistry
from shared.packs.testing import test_pack as run_pack_tests
from tests.packs.conftest import REPO, write_pack
from tests.plugins.clamd import ClamdServer

CORE_IPS = REPO / "rules" / "ips" / "core"
CORE_AV = REPO / "rules" / "av" / "core"

IPS_RULES = {
    "web.rules": """
        alert http $EXTERNAL_NET any -> $HOME_NET $HTTP_PORTS (msg:"probe admin"; flow:to_server,established; http.uri; content:"/admin"; sid:7100001; rev:1;)
        drop http $EXTERNAL_NET any -> $HOME_NET $HTTP_PORTS (msg:"probe passwd"; flow:to_server,established; http.uri; content:"/etc/passwd"; sid:7100002; rev:1;)
        alert http $EXTERNAL_NET any -> $HOME_NET $HTTP_PORTS (msg:"never"; flow:to_server,established; http.uri; content:"/nowhere-xyz"; sid:7100003; rev:1;)
    """,
}


def _ips_cases(expect_admin: list[int]) -> str:
    return f"""
        - name: admin
          tcp:
            - to_server: {{http: "GET /admin"}}
            - to_client: {{http_status: "200 OK", body: "ok"}}
          expect: {expect_admin}
        - name: passwd
          tcp:
            - to_server: {{http: "GET /x?f=/etc/passwd"}}
          expect: [7100002]
          verdict: drop
        - name: benign-http-index
          tcp:
            - to_server: {{http: "GET /index.html"}}
            - to_client: {{http_status: "200 OK", body: "hello"}}
          expect: []
    """


def _count_cases() -> int:
    return len(yaml.safe_load((CORE_IPS / "cases.yaml").read_text()))


def test_rules_test_core_ips_pack(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert rules_main(["test", "ips/core", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    n = _count_cases()
    assert out.rstrip().endswith(f"core@1.0.0: {n} passed, 0 failed")
    assert "per rule: 35 rules exercised, 0 with failing cases" in out
    assert "rules without a case" not in out


def test_ips_failures_name_the_path_and_sids(tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "p", {"web.rules": IPS_RULES["web.rules"], "tests/cases.yaml": _ips_cases([7100001, 7100003])},
                        kind="ips", cases=["tests/cases.yaml"])
    report = run_pack_tests(load_manifest(folder), cache_dir=tmp_path / "cache")
    assert (report.passed, report.failed) == (2, 1)
    failed = {name: detail for ok, name, detail in report.lines if not ok}
    assert failed == {"admin": "replay: expected sids did not fire: [7100003]; "
                               "replay inline-modelled: expected sids did not fire: [7100003]; "
                               "inline: expected sids did not fire: [7100003]"}
    assert report.per_rule == {"7100001": [False], "7100002": [True], "7100003": [False]}
    assert report.untested == []


def test_ips_untested_rule_and_drop_verdict(tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "p", {"web.rules": IPS_RULES["web.rules"], "tests/cases.yaml": _ips_cases([7100001])},
                        kind="ips", cases=["tests/cases.yaml"])
    report = run_pack_tests(load_manifest(folder), cache_dir=tmp_path / "cache")
    assert report.ok and report.passed == 3
    assert report.untested == ["7100003"]
    # the same drop case without its verdict: the inline detector reaches drop, which must be declared
    text = (folder / "tests" / "cases.yaml").read_text().replace("  verdict: drop\n", "")
    (folder / "tests" / "cases.yaml").write_text(text)
    report = run_pack_tests(load_manifest(folder), cache_dir=tmp_path / "cache")
    failed = {name: detail for ok, name, detail in report.lines if not ok}
    assert failed == {"passwd": "replay inline-modelled: blocked [7100002], expected []; inline: verdict drop, expected None"}


def test_ips_malformed_case_is_reported_with_its_line(tmp_path: Path) -> None:
    cases = _ips_cases([7100001]) + """
        - name: broken
          tcp:
            - to_server: {smtp: "HELO"}
          expect: []
    """
    folder = write_pack(tmp_path / "p", {"web.rules": IPS_RULES["web.rules"], "tests/cases.yaml": cases},
                        kind="ips", cases=["tests/cases.yaml"])
    report = run_pack_tests(load_manifest(folder), cache_dir=tmp_path / "cache")
    assert not report.ok
    assert report.error is not None and "cases.yaml:17: case broken: item 0: unknown generator in ['smtp']" in report.error


def test_ips_publish_gate_refuses_failing_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_pack(tmp_path / "p", {"web.rules": IPS_RULES["web.rules"], "tests/cases.yaml": _ips_cases([7100003])},
                        kind="ips", cases=["tests/cases.yaml"])
    db = f"sqlite:///{tmp_path / 'control.db'}"
    argv = ["publish", str(folder), "--changelog", "c", "--bundles-dir", str(tmp_path / "b"), "--control-db", db,
            "--cache-dir", str(tmp_path / "cache")]
    assert rules_main(argv) == 1
    out = capsys.readouterr().out
    assert "test     2 passed, 1 failed" in out and "publish  refused: seeded@1.0.0: tests failed" in out
    assert PackRegistry.from_url(db).versions("ips", "seeded") == []
    (folder / "tests" / "cases.yaml").write_text(_ips_cases([7100001]))
    assert rules_main(argv) == 0
    assert "publish  ips/seeded@1.0.0 published by" in capsys.readouterr().out
    assert [v.version for v in PackRegistry.from_url(db).versions("ips", "seeded")] == ["1.0.0"]


# -- AV ------------------------------------------------------------------------------------------

def test_av_core_pack_with_clamd(clamd_server: ClamdServer) -> None:
    report = run_pack_tests(load_manifest(CORE_AV), clamd=(clamd_server.host, clamd_server.port))
    cases = yaml.safe_load((CORE_AV / "tests.yaml").read_text())["cases"]
    assert (report.passed, report.failed) == (len(cases), 0), report.render()
    assert report.untested == []
    assert report.notes == [f"clamd {clamd_server.host}:{clamd_server.port}: every sample also scanned with INSTREAM"]
    assert all(report.per_rule[name] for name in ("Secchain.Test.EICAR.MD5", "Secchain.YARA.EICAR_TestFile"))


def test_av_without_clamd_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from shared.runtime.ports import free_port

    port = free_port()
    assert rules_main(["test", "av/core", "--clamd", f"127.0.0.1:{port}"]) == 0
    out = capsys.readouterr().out
    assert f"note: clamd 127.0.0.1:{port} not used: clamd unreachable" in out
    assert "ClamAV signatures checked with clamscan --allmatch only" in out


def test_av_seeded_failures(tmp_path: Path) -> None:
    folder = tmp_path / "av"
    shutil.copytree(CORE_AV, folder)
    doc = yaml.safe_load((folder / "tests.yaml").read_text())
    by_id = {c["id"]: c for c in doc["cases"]}
    # a body signature that no longer matches the sample, and a benign sample now expected to match
    (folder / "core.ldb").write_text((folder / "core.ldb").read_text().replace("6576616c28::i", "6576616c29::i"))
    by_id["php-benign"]["absent"] = []
    by_id["php-benign"]["verdict"] = "infected"
    by_id["php-benign"]["detect"] = ["Secchain.YARA.Webshell_PHP_RequestEval"]
    (folder / "tests.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    report = run_pack_tests(load_manifest(folder))
    failed = {name: detail for ok, name, detail in report.lines if not ok}
    assert set(failed) == {"php-webshell", "php-benign"}, failed
    assert failed["php-webshell"].startswith("not detected: Secchain.Webshell.PHP.RequestExec")
    assert failed["php-benign"].startswith("not detected: Secchain.YARA.Webshell_PHP_RequestEval")


def test_av_unknown_sample_is_a_case_error(tmp_path: Path) -> None:
    folder = tmp_path / "av"
    shutil.copytree(CORE_AV, folder)
    text = (folder / "tests.yaml").read_text().replace("sample: jsp_benign", "sample: jsp_bengin")
    (folder / "tests.yaml").write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "jsp_bengin" in row) - 1
    report = run_pack_tests(load_manifest(folder))
    assert report.error is not None
    assert f"tests.yaml:{line}: case jsp-benign: sample 'jsp_bengin' is not a generator" in report.error
