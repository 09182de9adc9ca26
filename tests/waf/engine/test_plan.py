"""The execution plan (services/waf/engine/plan.py) against the plain evaluation.

Every fast path must give exactly what the general path gives: matched rules with all their
fields, TX, MATCHED_VAR(S) and the intervention. Each case runs the same request through the
rule set as loaded (specialised plan) and through a copy whose plan leaves every link to the
general path.
"""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest

from services.waf.engine import RuleSet, Transaction
from services.waf.engine.plan import build_plan, compile_link
from tests.waf.engine.helpers import ids, ruleset, run


def general(rs: RuleSet) -> RuleSet:
    return replace(rs, plan=build_plan(rs.phases, rs.group_of, specialise=False))


def outcome(tx: Transaction) -> tuple[object, ...]:
    state = tx.state
    return (
        [asdict(m) for m in tx.matched_rules],
        dict(state.tx),
        dict(state.tx_names),
        state.matched_var,
        state.matched_var_name,
        list(state.matched_vars),
        state.highest_severity,
        tx.intervention,
        tx.errors,
    )


def same(text: str, uri: str = "/", **kwargs: object) -> Transaction:
    rs = ruleset(text)
    fast = run(rs, uri, **kwargs)  # type: ignore[arg-type]
    plain = run(general(rs), uri, **kwargs)  # type: ignore[arg-type]
    assert outcome(fast) == outcome(plain)
    return fast


GATES = (
    'SecAction "id:1,phase:1,pass,nolog,setvar:tx.level=2,setvar:tx.Mixed=7,setvar:tx.odd= 3x,setvar:tx.neg=-4"\n'
    'SecRule TX:level "@lt 1" "id:10,phase:1,pass,nolog,skipAfter:END-1"\n'
    'SecRule TX:level "@lt 3" "id:11,phase:1,pass,nolog,skipAfter:END-1"\n'
    'SecRule ARGS "@rx ." "id:12,phase:1,pass,log,msg:\'skipped\'"\n'
    'SecMarker END-1\n'
    'SecRule TX:MIXED "@eq 7" "id:20,phase:1,pass,log,msg:\'mixed %{MATCHED_VAR_NAME}\'"\n'
    'SecRule TX:odd "@ge 3" "id:21,phase:1,pass,log"\n'
    'SecRule TX:odd "!@gt 3" "id:22,phase:1,pass,log"\n'
    'SecRule TX:neg "@le -4" "id:23,phase:1,pass,log,severity:2"\n'
    'SecRule TX:missing "@eq 0" "id:24,phase:1,pass,log"\n'
    'SecRule TX:missing "!@eq 0" "id:25,phase:1,pass,log"\n'
    'SecRule &TX:missing "@eq 0" "id:26,phase:1,pass,log,logdata:\'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}\'"\n'
    'SecRule &TX:level "@eq 1" "id:27,phase:1,pass,log,setvar:tx.seen=+1"\n'
    'SecRule &TX:level "!@eq 1" "id:28,phase:1,pass,log"\n'
    'SecRule TX:level "@streq 2" "id:29,phase:1,pass,log,t:lowercase"\n'
    'SecRule TX:level "@eq %{tx.level}" "id:30,phase:1,pass,log"\n'
    'SecRule TX:Mixed "@rx ^(\\d)$" "id:31,phase:1,pass,log,capture,setvar:tx.cap=%{tx.1}"\n'
    'SecRule TX:level "@eq 2" "id:32,phase:1,pass,log,chain"\n'
    '  SecRule &TX:seen "@eq 1" "chain"\n'
    '    SecRule TX:mixed "@gt 6" "setvar:tx.chained=1"\n'
    'SecAction "id:40,phase:1,pass,log,msg:\'always\'"\n'
    'SecRule TX:level "@eq 2" "id:41,phase:1,deny,status:403,msg:\'gate %{tx.level}\'"\n'
)


def test_gates_counts_and_secaction_match_the_general_path() -> None:
    tx = same(GATES, "/?a=1")
    assert ids(tx) == [1, 11, 20, 21, 22, 23, 26, 27, 29, 30, 31, 32, 40, 41]  # no TX:missing, no match
    assert tx.state.tx["cap"] == "7" and tx.state.tx["chained"] == "1"
    assert tx.intervention is not None and tx.intervention.rule_id == 41
    assert [m.matched_var for m in tx.matched_rules if m.id in (20, 26)] == ["TX:Mixed", "TX:missing"]


def test_every_gate_shape_gets_a_fast_matcher() -> None:
    rs = ruleset(GATES)
    fast = {rule.id for rule in rs.rules() if compile_link(rule) is not None}
    assert {1, 10, 11, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 40, 41} <= fast
    assert 12 not in fast  # ARGS: general path


def test_target_removal_falls_back_to_the_general_path() -> None:
    text = (
        'SecAction "id:1,phase:1,pass,nolog,setvar:tx.level=2"\n'
        'SecRule REQUEST_URI "@rx ." "id:2,phase:1,pass,nolog,ctl:ruleRemoveTargetById=3;TX:level"\n'
        'SecRule TX:level "@eq 2" "id:3,phase:1,pass,log"\n'
        'SecRule TX:level "@eq 2" "id:4,phase:1,pass,log"\n'
    )
    assert ids(same(text)) == [1, 2, 4]


@pytest.mark.parametrize("value", ["2", " 2", "+2", "02", "2x", "x", "", "-2", "\u00b2", "99999999999999999999"])
def test_numeric_reading_is_c_atoi(value: str) -> None:
    text = (
        f'SecAction "id:1,phase:1,pass,nolog,setvar:\'tx.v={value}\'"\n'
        'SecRule TX:v "@eq 2" "id:2,phase:1,pass,log"\n'
        'SecRule TX:v "@lt 1" "id:3,phase:1,pass,log"\n'
        'SecRule TX:v "@ge 100" "id:4,phase:1,pass,log"\n'
    )
    same(text)


def test_skip_after_jumps_to_the_first_marker_after_the_rule() -> None:
    text = (
        'SecMarker M\n'
        'SecRule REQUEST_URI "@rx ." "id:1,phase:1,pass,nolog,skipAfter:M"\n'
        'SecRule REQUEST_URI "@rx ." "id:2,phase:1,pass,nolog"\n'
        'SecMarker M\n'
        'SecRule REQUEST_URI "@rx ." "id:3,phase:1,pass,nolog,skipAfter:M"\n'
        'SecRule REQUEST_URI "@rx ." "id:4,phase:1,pass,nolog"\n'
        'SecMarker M\n'
        'SecRule REQUEST_URI "@rx ." "id:5,phase:1,pass,nolog,skipAfter:7"\n'
        'SecRule REQUEST_URI "@rx ." "id:6,phase:1,pass,nolog"\n'
        'SecRule REQUEST_URI "@rx ." "id:7,phase:1,pass,nolog"\n'
        'SecRule REQUEST_URI "@rx ." "id:8,phase:1,pass,nolog,skip:2"\n'
        'SecMarker N\n'
        'SecRule REQUEST_URI "@rx ." "id:9,phase:1,pass,nolog"\n'
        'SecMarker O\n'
        'SecRule REQUEST_URI "@rx ." "id:10,phase:1,pass,nolog"\n'
        'SecRule REQUEST_URI "@rx ." "id:11,phase:1,pass,nolog,skipAfter:N"\n'
        'SecRule REQUEST_URI "@rx ." "id:12,phase:1,pass,nolog"\n'
    )
    assert ids(same(text)) == [1, 3, 5, 8, 11]


def test_skip_after_a_marker_missing_in_the_rest_of_the_phase_ends_the_phase() -> None:
    text = (
        'SecRule REQUEST_URI "@rx ." "id:1,phase:2,pass,nolog,skipAfter:LATER"\n'
        'SecRule REQUEST_URI "@rx ." "id:2,phase:2,pass,nolog"\n'
        'SecRule REQUEST_URI "@rx ." "id:3,phase:1,pass,nolog"\n'
        'SecMarker LATER\n'
    )
    # the marker exists in every phase (ModSecurity v3); in phase 2 it comes after rule 2
    assert ids(same(text)) == [3, 1]


def test_stable_targets_are_read_once_per_phase_with_the_same_values() -> None:
    text = (
        'SecRule ARGS|REQUEST_HEADERS:User-Agent "@rx a" "id:1,phase:1,pass,log,t:lowercase"\n'
        'SecRule ARGS|REQUEST_HEADERS:user-agent "@rx b" "id:2,phase:1,pass,log"\n'
        'SecRule ARGS|!ARGS:x "@rx a" "id:3,phase:2,pass,log,ctl:ruleRemoveTargetById=4;ARGS:y"\n'
        'SecRule ARGS "@rx a" "id:4,phase:2,pass,log"\n'
        'SecRule ARGS_POST "@rx a" "id:5,phase:2,pass,log"\n'
    )
    headers = (("Host", "demo.local"), ("User-Agent", "Ab"), ("Content-Type", "application/x-www-form-urlencoded"))
    tx = same(text, "/?x=a&y=A", method="POST", headers=headers, body=b"z=a")
    assert ids(tx) == [1, 2, 3, 4, 5]
    assert [m.matched_var for m in tx.matched_rules] == [
        "REQUEST_HEADERS:User-Agent", "REQUEST_HEADERS:User-Agent", "ARGS:z", "ARGS:z", "ARGS_POST:z"
    ]


def test_several_tx_targets_match_the_general_path() -> None:
    text = (
        'SecAction "id:1,phase:1,pass,nolog,setvar:tx.Pkg=1,setvar:tx.other=0"\n'
        'SecRule &TX:pkg|TX:pkg "@eq 1" "id:2,phase:1,pass,log,msg:\'%{MATCHED_VAR_NAME}\'"\n'
        'SecRule &TX:nope|TX:nope|TX:other "@eq 0" "id:3,phase:1,pass,log,setvar:tx.hits=+1"\n'
        'SecRule TX:pkg|TX:other "!@eq 0" "id:4,phase:1,pass,log"\n'
        'SecRule TX:nope|&TX:nope "@eq 1" "id:5,phase:1,pass,log"\n'
        'SecRule TX:pkg|TX:other "@ge 1" "id:6,phase:1,pass,log,t:length"\n'
    )
    rs = ruleset(text)
    assert all(compile_link(rule) is not None for rule in rs.rules())
    tx = same(text)
    assert ids(tx) == [1, 2, 3, 4, 6]
    assert tx.state.tx["hits"] == "2"  # once per matched value: &TX:nope and TX:other
    assert tx.matched_rules[1].msg == "TX:Pkg"
