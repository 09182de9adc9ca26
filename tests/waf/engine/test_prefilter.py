"""Prefilter groups: one scan per (phase, targets, transformations), same results as rule by rule."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.waf.engine import RuleSet
from tests.waf.engine.helpers import PREFIX, ids, run

RULES = (
    'SecRule ARGS|REQUEST_HEADERS:User-Agent "@rx (?i)union\\s+select" "id:1,phase:2,pass,t:urlDecodeUni"\n'
    'SecRule ARGS|REQUEST_HEADERS:User-Agent "@pm sqlmap nikto" "id:2,phase:2,pass,t:urlDecodeUni,capture"\n'
    'SecRule ARGS|REQUEST_HEADERS:User-Agent "@rx <script" "id:3,phase:2,pass,t:urlDecodeUni,chain"\n'
    '  SecRule REQUEST_METHOD "@streq GET" "t:none"\n'
    'SecRule ARGS|REQUEST_HEADERS:User-Agent "!@rx ^x" "id:4,phase:2,pass,t:urlDecodeUni"\n'  # negated: alone
    'SecRule TX:foo|ARGS "@rx a" "id:5,phase:2,pass,t:urlDecodeUni"\n'  # reads TX: alone
    'SecRule ARGS|REQUEST_HEADERS:User-Agent "@rx (?i)drop\\s+table" "id:6,phase:2,pass"\n'  # other transforms
)


@pytest.fixture(scope="module")
def grouped() -> RuleSet:
    return RuleSet.from_text(PREFIX + RULES)


def test_only_eligible_rules_with_the_same_targets_and_transforms_are_grouped(grouped: RuleSet) -> None:
    assert len(grouped.groups) == 1
    assert [r.id for r in grouped.groups[0].members] == [1, 2, 3]
    assert {grouped.group_of[id(grouped.rule(i))][1] for i in (1, 2, 3)} == {0, 1, 2}
    assert all(id(grouped.rule(i)) not in grouped.group_of for i in (4, 5, 6))


@pytest.mark.parametrize(
    "uri",
    ["/?q=1%20UNION%20%20select%202", "/?a=%3Cscript%3E", "/?x=plain", "/?q=union+select&b=%3cscript", "/"],
)
@pytest.mark.parametrize("agent", ["Mozilla/5.0", "sqlmap/1.7"])
def test_grouped_evaluation_equals_rule_by_rule(grouped: RuleSet, uri: str, agent: str) -> None:
    plain = replace(grouped, groups=(), group_of={})
    headers = [("Host", "h"), ("User-Agent", agent)]
    a, b = run(grouped, uri, headers=headers), run(plain, uri, headers=headers)
    assert ids(a) == ids(b)
    assert [(m.matched_var, m.matched_data) for m in a.matched_rules] == [
        (m.matched_var, m.matched_data) for m in b.matched_rules
    ]
    assert a.state.tx == b.state.tx


def test_a_member_without_candidates_is_not_evaluated(grouped: RuleSet) -> None:
    tx = run(grouped, "/?q=union%20select", headers=[("Host", "h"), ("User-Agent", "curl")])
    assert tx._group_hits == {0: {0}}  # only rule 1's pattern occurred: 2 and 3 were skipped
    assert ids(tx) == [1, 4]


@pytest.mark.parametrize(
    ("second", "joinable"),
    [
        ("@rx \\bdrop\\b", True),
        ("@rx ^drop$", True),  # MULTILINE: ^ and $ also hold next to the joining newline
        ("@pm drop table", True),
        ("@rx \\Adrop", False),
        ("@rx drop\\z", False),
        ("@rx (?-m)^drop", False),
        ("@rx (?<!x)drop", False),
    ],
)
def test_groups_scan_joined_values_only_when_no_match_can_be_lost(second: str, joinable: bool) -> None:
    rules = (
        'SecRule ARGS "@rx (?i)union\\s+select" "id:1,phase:2,pass"\n'
        f'SecRule ARGS "{second}" "id:2,phase:2,pass"\n'
    )
    rs = RuleSet.from_text(PREFIX + rules)
    assert len(rs.groups) == 1 and rs.groups[0].joinable is joinable
    # anchored at a value's ends, in the middle of the joined buffer: still a candidate
    assert {0, 1} <= rs.groups[0].candidates([b"x", b"union select", b"drop", b"table"]) or not joinable
    assert ids(run(rs, "/?a=x&b=drop&c=union%20select")) == [1, 2]
