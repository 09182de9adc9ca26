"""Every test case of rules/waf/core/tests/*.yaml through the real engine, one test id per case.

Each case runs twice: under DetectionOnly, so that every rule that matches is seen (not just the
first, which would block), and under the pack's own SecRuleEngine On, where an attack must be
blocked with 403 and benign traffic must pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.waf.engine import RuleSet, Transaction, load_ruleset
from shared.packs.waf.cases import run_request

PACK = Path(__file__).resolve().parents[2] / "rules" / "waf" / "core"


def _cases() -> list[Any]:
    cases = []
    names: set[str] = set()
    for path in sorted((PACK / "tests").glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()):
            assert case["name"] not in names, f"duplicate case name {case['name']} in {path.name}"
            names.add(case["name"])
            cases.append(pytest.param(case, id=case["name"]))
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    manifest = yaml.safe_load((PACK / "manifest.yaml").read_text())
    return load_ruleset([PACK / name for name in manifest["files"]])


def _run(rs: RuleSet, request: dict[str, Any]) -> Transaction:
    tx = run_request(rs, request)  # the runner `secchain rules test` uses
    assert tx.errors == [], f"rule evaluation errors: {tx.errors}"
    return tx


def test_pack_has_enough_cases() -> None:
    attacks = [c for c in CASES if c.values[0]["expect"].get("match")]
    benign = [c for c in CASES if c.values[0]["expect"].get("none")]
    assert len(attacks) >= 60 and len(benign) >= 40, (len(attacks), len(benign))


def test_every_rule_has_a_case(ruleset: RuleSet) -> None:
    expected = {i for c in CASES for i in c.values[0]["expect"].get("match", [])}
    logged = {r.id for r in ruleset.rules() if r.log}
    assert logged - expected == set(), "rules without an attack case"


@pytest.mark.parametrize("case", CASES)
def test_case(ruleset: RuleSet, case: dict[str, Any]) -> None:
    expect = case["expect"]
    tx = _run(ruleset.with_engine_mode("DetectionOnly"), case["request"])
    matched = {m.id for m in tx.matched_rules if m.log}
    assert tx.intervention is None
    if expect.get("none"):
        assert matched == set(), [(m.id, m.msg, m.matched_var, m.matched_data) for m in tx.matched_rules if m.log]
    missing = set(expect.get("match", [])) - matched
    assert not missing, f"expected rules did not match: {sorted(missing)}; matched {sorted(matched)}"
    unexpected = set(expect.get("no_match", [])) & matched
    assert not unexpected, f"rules matched that must not: {sorted(unexpected)}"

    enforced = _run(ruleset, case["request"])
    if expect.get("match"):
        assert enforced.intervention is not None and enforced.intervention.status == 403
        assert enforced.intervention.rule_id in matched
        assert enforced.anomaly_score >= 3
    else:
        assert enforced.intervention is None
        assert enforced.anomaly_score == 0


def test_rules_carry_metadata(ruleset: RuleSet) -> None:
    for rule in ruleset.rules():
        assert 1000000 <= rule.id <= 1099999
        if not rule.log:
            continue
        assert rule.msg is not None and rule.severity is not None, rule.id
        assert any(t.startswith("attack-") for t in rule.tags), rule.id
        assert any(t.startswith("OWASP_TOP_10/A") for t in rule.tags), rule.id
