"""Each operator through a real rule, including negation, captures and macro arguments."""

from __future__ import annotations

import pytest

from services.waf.operators import OPERATORS
from tests.waf.engine.helpers import ids, run, ruleset


def _matches(operator: str, value: str, *, extra: str = "") -> bool:
    """Does ``SecRule ARGS:v "<operator>"`` match ``v=value`` (value is put in the query raw)?"""
    rules = extra + f'SecRule ARGS:v "{operator}" "id:1,phase:2,pass"\n'
    return ids(run(rules, f"/?v={value}")) == [1]


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("@rx ^ab+c$", "abbbc", True),
        ("@rx ^ab+c$", "ABC", False),
        ("@rx (?i)^ab+c$", "ABC", True),
        ("@rx a.b", "a%0Ab", True),  # DOTALL, as ModSecurity v3 compiles @rx
        ("@rx ^b$", "a%0Ab", True),  # MULTILINE
        ("@rx \\d{3}", "x12y", False),
        ("@rx (a)\\1", "xaay", True),  # backreference: prefilter+confirm path
        ("!@rx ^\\d+$", "12a", True),
        ("!@rx ^\\d+$", "123", False),
        ("@pm sqlmap nikto", "I+use+NIKTO+daily", True),
        ("@pm sqlmap nikto", "nothing", False),
        ("@contains adm", "xadmx", True),
        ("@contains ADM", "xadmx", False),
        ("@streq admin", "admin", True),
        ("@streq admin", "admin2", False),
        ("@beginsWith /adm", "/admin", True),
        ("@beginsWith /adm", "x/admin", False),
        ("@endsWith .php", "index.php", True),
        ("@endsWith .php", "index.php5", False),
        ("@within GET HEAD POST", "HEAD", True),
        ("@within GET HEAD POST", "PUT", False),
        ("@within GET HEAD POST", "", False),
        ("@eq 5", "5", True),
        ("@eq 5", "05", True),
        ("@eq 0", "abc", True),  # atoi("abc") == 0
        ("@ge 5", "5", True),
        ("@gt 5", "5", False),
        ("@lt 5", "-3", True),
        ("@le 5", "6", False),
        ("@detectSQLi", "1'+OR+'1'='1", True),
        ("@detectSQLi", "O'Brien", False),
        ("@detectSQLi", "", False),
        ("@detectXSS", "<img+src=x+onerror=alert(1)>", True),
        ("@detectXSS", "hello+<b>world</b>", False),
        ("@unconditionalMatch", "anything", True),
        ("@noMatch", "anything", False),
    ],
)
def test_operator(operator: str, value: str, expected: bool) -> None:
    assert _matches(operator, value) is expected


def test_table_has_every_operator_once() -> None:
    expected = {"rx", "pm", "contains", "streq", "beginswith", "endswith", "within", "eq", "ge", "gt",
                "lt", "le", "detectsqli", "detectxss", "unconditionalmatch", "nomatch"}
    assert expected <= set(OPERATORS)


def test_implicit_rx_and_case_insensitive_names() -> None:
    assert ids(run('SecRule ARGS "^a+$" "id:1,phase:2,pass"\nSecRule ARGS "@STREQ aa" "id:2,phase:2,pass"', "/?x=aa")) == [1, 2]


def test_rx_capture_sets_tx_0_to_9() -> None:
    rules = (
        'SecRule ARGS:v "@rx (\\w+)-(\\d+)" "id:1,phase:2,pass,capture,chain"\n'
        '  SecRule TX:1 "@streq abc" "chain"\n'
        '  SecRule TX:2 "@streq 42" "setvar:tx.whole=%{tx.0}"\n'
    )
    tx = run(rules, "/?v=x:abc-42!")
    assert ids(tx) == [1]
    assert tx.state.tx["whole"] == "abc-42"
    assert "3" not in tx.state.tx


def test_pm_and_detect_sqli_capture() -> None:
    tx = run('SecRule ARGS "@pm alpha beta" "id:1,phase:2,pass,capture,logdata:%{tx.0}"', "/?v=xxBETAxx")
    assert tx.matched_rules[0].logdata == "beta"
    tx = run('SecRule ARGS "@detectSQLi" "id:1,phase:2,pass,capture"', "/?v=1'+or+'1'='1")
    assert tx.state.tx["0"] == "s&sos"


def test_macro_arguments_expand_per_request() -> None:
    rules = (
        'SecAction "id:1,phase:1,pass,nolog,setvar:tx.limit=3,setvar:tx.word=secret,setvar:tx.pattern=^s.c"\n'
        'SecRule ARGS:n "@gt %{tx.limit}" "id:2,phase:2,pass"\n'
        'SecRule ARGS:w "@contains %{tx.word}" "id:3,phase:2,pass"\n'
        'SecRule ARGS:w "@rx %{tx.pattern}" "id:4,phase:2,pass"\n'
        'SecRule REQUEST_METHOD "@streq %{REQUEST_HEADERS.x-method}" "id:5,phase:2,pass"\n'
    )
    assert ids(run(rules, "/?n=4&w=my-secret")) == [1, 2, 3]
    assert ids(run(rules, "/?n=3&w=secretly", headers=[("X-Method", "GET")])) == [1, 3, 4, 5]


def test_rx_runs_on_the_matching_core_and_reports_paths() -> None:
    rs = ruleset('SecRule ARGS "@rx ^a+$" "id:1,phase:2,pass"\nSecRule ARGS "@rx (a)\\1" "id:2,phase:2,pass"')
    assert dict(rs.report) == {"hyperscan": 1, "prefilter+confirm": 1}


def test_bytes_semantics_for_non_ascii() -> None:
    # "é" arrives as the two UTF-8 bytes C3 A9; a pattern written in UTF-8 matches those bytes and
    # \w does not match them (PCRE without UTF mode).
    assert _matches("@rx caf\u00e9", "caf%C3%A9")
    assert not _matches("@rx ^caf\\w+$", "caf%C3%A9")
    assert _matches("@rx ^caf..$", "caf%C3%A9")
