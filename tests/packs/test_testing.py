from __future__ import annotations

from pathlib import Path

from services.packs.cli import main as rules_main
from shared.packs.manifest import load_manifest
from shared.packs.testing import test_pack as run_pack_tests
from tests.packs.conftest import CORE_WAF, write_pack

RULES = {
    "rules.conf": r'''
        SecRuleEngine On
        SecDefaultAction "phase:2,log,deny,status:403"
        SecRule ARGS "@contains evil" "id:2000001,phase:2,deny,msg:'evil'"
        SecRule ARGS "@contains nasty" "id:2000002,phase:2,deny,msg:'nasty'"
    ''',
}


def _cases(text: str) -> dict[str, str]:
    return {**RULES, "tests/cases.yaml": text}


def test_core_pack_passes_with_per_rule_results() -> None:
    report = run_pack_tests(load_manifest(CORE_WAF))
    assert report.ok and report.failed == 0 and report.passed >= 100
    assert report.per_rule["1001110"] and all(report.per_rule["1001110"])
    assert report.untested == []


def test_failures_are_reported_per_case_and_rule(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    folder = write_pack(tmp_path / "p", _cases('''
        - name: evil-blocked
          request: {uri: "/?q=evil"}
          expect: {match: [2000001]}
        - name: nasty-expected-but-absent
          request: {uri: "/?q=harmless"}
          expect: {match: [2000002]}
        - name: benign-that-matches
          request: {uri: "/?q=nasty"}
          expect: {none: true}
    '''), cases=["tests/*.yaml"])
    report = run_pack_tests(load_manifest(folder))
    assert (report.passed, report.failed) == (1, 2)
    assert report.per_rule == {"2000001": [True], "2000002": [False]}
    assert rules_main(["test", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "FAIL nasty-expected-but-absent: expected rules did not match: [2000002] (matched [])" in out
    assert "FAIL benign-that-matches: benign traffic matched [2000002]" in out
    assert "  FAIL 2000002: 0/1 case(s) passed" in out
    assert out.rstrip().endswith("seeded@1.0.0: 1 passed, 2 failed")


def test_malformed_case_file_fails_with_its_line(tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "p", _cases('''
        - name: ok
          request: {uri: "/"}
          expect: {none: true}
        - name: no-expectation
          request: {uri: "/"}
    '''), cases=["tests/*.yaml"])
    report = run_pack_tests(load_manifest(folder))
    assert not report.ok and report.error is not None
    assert "cases.yaml:4: case no-expectation: expect needs match, no_match or none" in report.error
