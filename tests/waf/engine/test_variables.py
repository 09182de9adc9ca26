"""Variables, selectors, exclusions, counting and the request body processors."""

from __future__ import annotations

import json

import pytest

from services.waf.variables import VARIABLES
from tests.waf.engine.helpers import run


def _matched(target: str, uri: str = "/", **kwargs: object) -> list[tuple[str, str]]:
    """(MATCHED_VAR_NAME, value) of every value ``target`` yields, via a match-all rule."""
    tx = run(
        f'SecRule {target} "@unconditionalMatch" "id:1,phase:2,pass,setvar:tx.n=+1,'
        "setvar:'tx.seen=%{tx.seen}|%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'\"",
        uri,
        **kwargs,  # type: ignore[arg-type]
    )
    seen = tx.state.tx.get("seen", "")
    return [tuple(item.split("=", 1)) for item in seen.split("|")[1:]]  # type: ignore[misc]


def test_args_get_post_and_names() -> None:
    body = b"b=2&c=x+y&c=%3C"
    headers = [("Host", "h"), ("Content-Type", "application/x-www-form-urlencoded")]
    assert _matched("ARGS", "/p?a=1&a=%20", method="POST", headers=headers, body=body) == [
        ("ARGS:a", "1"), ("ARGS:a", " "), ("ARGS:b", "2"), ("ARGS:c", "x y"), ("ARGS:c", "<"),
    ]
    assert _matched("ARGS_GET", "/p?a=1&flag", method="POST", headers=headers, body=body) == [
        ("ARGS_GET:a", "1"), ("ARGS_GET:flag", ""),
    ]
    assert _matched("ARGS_POST:c", "/p", method="POST", headers=headers, body=body) == [
        ("ARGS_POST:c", "x y"), ("ARGS_POST:c", "<"),
    ]
    assert _matched("ARGS_NAMES", "/p?a=1", method="POST", headers=headers, body=body) == [
        ("ARGS_NAMES:a", "a"), ("ARGS_NAMES:b", "b"), ("ARGS_NAMES:c", "c"), ("ARGS_NAMES:c", "c"),
    ]


def test_selectors_are_case_insensitive_and_regex_selectors() -> None:
    assert _matched("ARGS:ID", "/?id=1&Id=2&idx=3") == [("ARGS:id", "1"), ("ARGS:Id", "2")]
    assert _matched("ARGS:/^id_/", "/?id_a=1&ID_B=2&xid_c=3") == [("ARGS:id_a", "1"), ("ARGS:ID_B", "2")]
    assert _matched("ARGS:/^(?:a|b)$/", "/?a=1&b=2&c=3") == [("ARGS:a", "1"), ("ARGS:b", "2")]


def test_exclusions_and_lists() -> None:
    assert _matched("ARGS|!ARGS:b|!ARGS:/^z/", "/?a=1&b=2&z1=3&c=4") == [("ARGS:a", "1"), ("ARGS:c", "4")]
    assert _matched("ARGS:/^a/|!ARGS:ab", "/?aa=1&ab=2") == [("ARGS:aa", "1")]
    assert _matched("REQUEST_METHOD|REQUEST_PROTOCOL", "/") == [("REQUEST_METHOD", "GET"), ("REQUEST_PROTOCOL", "HTTP/1.1")]


def test_counting() -> None:
    assert _matched("&ARGS", "/?a=1&a=2&b=3") == [("ARGS", "3")]
    assert _matched("&ARGS:a", "/?a=1&a=2&b=3") == [("ARGS:a", "2")]
    assert _matched("&ARGS:missing", "/?a=1") == [("ARGS:missing", "0")]
    assert _matched("&REQUEST_HEADERS:Host", "/") == [("REQUEST_HEADERS:Host", "1")]


def test_headers_and_cookies() -> None:
    headers = [("Host", "h"), ("X-A", "1"), ("x-a", "2"), ("Cookie", "s=abc; theme = dark;;  t=a=b"), ("Cookie", "z=%41")]
    assert _matched("REQUEST_HEADERS:x-A", headers=headers) == [("REQUEST_HEADERS:X-A", "1"), ("REQUEST_HEADERS:x-a", "2")]
    assert _matched("REQUEST_HEADERS_NAMES:/^x-/", headers=headers) == [
        ("REQUEST_HEADERS_NAMES:X-A", "X-A"), ("REQUEST_HEADERS_NAMES:x-a", "x-a"),
    ]
    assert _matched("REQUEST_COOKIES", headers=headers) == [
        ("REQUEST_COOKIES:s", "abc"), ("REQUEST_COOKIES:theme", " dark"), ("REQUEST_COOKIES:t", "a=b"),
        ("REQUEST_COOKIES:z", "%41"),
    ]
    assert _matched("REQUEST_COOKIES_NAMES", headers=headers)[0] == ("REQUEST_COOKIES_NAMES:s", "s")


@pytest.mark.parametrize(
    ("target", "uri", "expected"),
    [
        ("REQUEST_URI", "/a/b.php?x=%41", "/a/b.php?x=%41"),
        ("REQUEST_URI", "http://h.example/a?x", "/a?x"),
        ("REQUEST_URI_RAW", "http://h.example/a?x", "http://h.example/a?x"),
        ("REQUEST_FILENAME", "/a/b.php?x=1", "/a/b.php"),
        ("REQUEST_BASENAME", "/a/b.php?x=1", "b.php"),
        ("QUERY_STRING", "/a?x=1&y=%20", "x=1&y=%20"),
        ("REQUEST_LINE", "/a?x=1", "GET /a?x=1 HTTP/1.1"),
        ("REMOTE_ADDR", "/", "192.0.2.10"),
    ],
)
def test_request_line_variables(target: str, uri: str, expected: str) -> None:
    assert _matched(target, uri) == [(target, expected)]


def test_json_body_is_flattened_like_modsecurity() -> None:
    doc = {"a": {"b": "x", "n": 5}, "list": ["p", {"q": True}], "nil": None, "t": False}
    seen = _matched(
        "ARGS_POST", "/api", method="POST",
        headers=[("Host", "h"), ("Content-Type", "application/json; charset=utf-8")], body=json.dumps(doc).encode(),
    )
    assert seen == [
        ("ARGS_POST:json.a.b", "x"), ("ARGS_POST:json.a.n", "5"), ("ARGS_POST:json.list.array_0", "p"),
        ("ARGS_POST:json.list.array_1.q", "true"), ("ARGS_POST:json.nil", ""), ("ARGS_POST:json.t", "false"),
    ]


def test_invalid_json_sets_reqbody_error_and_keeps_raw_body() -> None:
    rules = (
        'SecRule REQBODY_ERROR "@eq 1" "id:1,phase:2,pass,logdata:%{REQBODY_ERROR_MSG}"\n'
        'SecRule REQUEST_BODY "@contains broken" "id:2,phase:2,pass"\n'
    )
    tx = run(rules, "/", method="POST", headers=[("Content-Type", "application/json")], body=b'{"broken":')
    assert [m.id for m in tx.matched_rules] == [1, 2]
    assert tx.matched_rules[0].logdata is not None and tx.matched_rules[0].logdata.startswith("invalid JSON body")


def test_request_body_access_off_hides_body() -> None:
    rules = 'SecRule REQUEST_BODY|ARGS "@contains secret" "id:1,phase:2,pass"'
    headers = [("Content-Type", "application/x-www-form-urlencoded")]
    on = run(rules, "/", method="POST", headers=headers, body=b"a=secret")
    off = run("SecRequestBodyAccess Off\n" + rules, "/", method="POST", headers=headers, body=b"a=secret")
    assert [(m.id, m.matched_var) for m in on.matched_rules] == [(1, "ARGS:a")]
    assert off.matched_rules == []


def test_tx_matched_var_and_response_status() -> None:
    rules = (
        'SecAction "id:1,phase:1,pass,setvar:tx.Score=7"\n'
        'SecRule TX:score "@eq 7" "id:2,phase:1,pass"\n'
        'SecRule ARGS "@rx b" "id:3,phase:2,pass,chain"\n'
        '  SecRule MATCHED_VAR_NAME "@streq ARGS:second" ""\n'
        'SecRule ARGS "@rx b" "id:6,phase:2,pass,chain"\n'
        '  SecRule MATCHED_VAR "@streq b" "chain"\n'
        '  SecRule MATCHED_VAR_NAME "@streq MATCHED_VAR"\n'
        'SecRule RESPONSE_STATUS "@rx ^5" "id:4,phase:3,pass"\n'
        'SecRule RESPONSE_STATUS "@rx ." "id:5,phase:2,pass"\n'
    )
    tx = run(rules, "/?first=a&second=b", status=503)
    assert [m.id for m in tx.matched_rules] == [1, 2, 3, 6, 4]
    assert tx.matched_rules[1].matched_var == "TX:Score"


def test_every_required_variable_is_registered() -> None:
    required = """ARGS ARGS_GET ARGS_POST ARGS_NAMES REQUEST_HEADERS REQUEST_HEADERS_NAMES REQUEST_COOKIES
    REQUEST_COOKIES_NAMES REQUEST_URI REQUEST_URI_RAW REQUEST_FILENAME REQUEST_BASENAME REQUEST_METHOD
    REQUEST_LINE REQUEST_PROTOCOL QUERY_STRING REQUEST_BODY REMOTE_ADDR TX MATCHED_VAR MATCHED_VAR_NAME
    RESPONSE_STATUS""".split()
    assert set(required) <= set(VARIABLES)
