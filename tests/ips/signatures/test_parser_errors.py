"""Syntax errors name the file, line and column of the offending character and what was expected."""

from __future__ import annotations

import pytest

from services.ips.signatures import RuleSyntaxError, RuleUnsupported, parse_rule


def error_of(text: str) -> RuleSyntaxError:
    with pytest.raises(RuleSyntaxError) as info:
        parse_rule(text, file="t.rules", line=7)
    return info.value


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("alrt tcp any any -> any any (sid:1;)", 1, "expected an action"),
        ("alert tcp any any => any any (sid:1;)", 19, "expected a direction"),
        ("alert foo any any -> any any (sid:1;)", 7, "expected a protocol"),
        ("alert tcp any any -> any (sid:1;)", 26, "expected a destination port"),
        ("alert tcp any any -> any any sid:1;", 30, "expected '(' to open"),
        ("alert tcp any any -> any any (sid:1; msg:\"x\")", 45, "expected ';' after the value of option 'msg'"),
        ("alert tcp any any -> any any (sid:1;", 37, "expected ')'"),
        ("alert tcp any any -> any any (sid:1;) x", 39, "expected end of rule"),
        ("alert tcp any any -> any any (sid:1; :x;)", 38, "expected an option name"),
        ("alert tcp any any -> any any (sid:1; nocase x;)", 45, "expected ':' or ';'"),
        ("alert tcp any any -> any any (content:\"a|4g|\"; sid:1;)", 43, "expected hex digits"),
        ("alert tcp any any -> any any (content:\"a|414|\"; sid:1;)", 45, "even number of hex digits"),
        ("alert tcp any any -> any any (content:\"a|41\"; sid:1;)", 41, "expected '|' to close"),
        ("alert tcp any any -> any any (content:\"a\\x\"; sid:1;)", 41, "after a backslash"),
        ("alert tcp any any -> any any (content:\"\"; sid:1;)", 40, "non-empty pattern"),
        ("alert tcp any any -> any any (content:\"abc; sid:1;)", 43, "expected a closing"),
        ("alert tcp any any -> any any (nocase; content:\"a\"; sid:1;)", 31, "expected a preceding 'content'"),
        ("alert tcp any any -> any any (content:\"abcd\"; within:3; sid:1;)", 54, "within 3 is smaller than the content length 4"),
        ("alert tcp any any -> any any (content:\"abcd\"; depth:2; sid:1;)", 53, "depth 2 is smaller"),
        ("alert tcp any any -> any any (content:\"ab\"; startswith; depth:4; sid:1;)", 63, "can't use depth with startswith"),
        ("alert tcp any any -> any any (content:\"ab\"; depth:4; distance:1; sid:1;)", 63, "can't mix the relative distance"),
        ("alert tcp any any -> any any (content:\"ab\"; distance:1; offset:4; sid:1;)", 64, "can't mix offset"),
        ("alert tcp any any -> any any (content:\"ab\"; nocase; nocase; sid:1;)", 53, "already has nocase"),
        ("alert tcp any any -> any any (content:\"ab\"; distance:x; sid:1;)", 54, "expected an integer or a byte_extract variable"),
        ("alert tcp 1.2.3.300 any -> any any (sid:1;)", 11, "expected an IP address"),
        ("alert tcp [1.2.3.4,$NOPE] any -> any any (sid:1;)", 20, "undefined address variable '$NOPE'"),
        ("alert tcp any [80,70000] -> any any (sid:1;)", 19, "between 0 and 65535"),
        ("alert tcp any 90:80 -> any any (sid:1;)", 15, "low <= high"),
        ("alert tcp !any any -> any any (sid:1;)", 11, "'!any' can never match"),
        ("alert tcp [1.2.3.4 any -> any any (sid:1;)", 11, "expected ']'"),
        ("alert tcp any any -> any any (msg:\"x\";)", 39, "expected a 'sid' option"),
        ("alert tcp any any -> any any (sid:0;)", 35, "expected a signature id between 1"),
        ("alert tcp any any -> any any (sid:1; sid:2;)", 42, "given twice"),
        ("alert tcp any any -> any any (flow:established,sideways; sid:1;)", 48, "expected established"),
        ("alert tcp any any -> any any (flow:to_server,to_client; sid:1;)", 46, "direction given twice"),
        ("alert tcp any any -> any any (threshold:type limit, count 1, seconds 60; sid:1;)", 72, "expected track as well"),
        ("alert tcp any any -> any any (threshold:type limit, track by_ip, count 1, seconds 6; sid:1;)", 59, "expected track by_src"),
        ("alert tcp any any -> any any (pcre:\"/a/k\"; sid:1;)", 40, "unknown pcre flag 'k'"),
        ("alert tcp any any -> any any (pcre:\"a\"; sid:1;)", 37, "expected '/' to open"),
        ("alert tcp any any -> any any (byte_test:4,>,x,0; sid:1;)", 45, "expected a value or a byte_extract variable"),
        ("alert tcp any any -> any any (byte_test:4,~,1,0; sid:1;)", 43, "expected an operator"),
        ("alert tcp any any -> any any (byte_test:9,>,1,0; sid:1;)", 41, "expected nbytes between 1 and 8"),
        ("alert tcp any any -> any any (byte_jump:4,0,sideways; sid:1;)", 45, "expected one of"),
        ("alert tcp any any -> any any (dsize:>70000; sid:1;)", 38, "at most 65535"),
        ("alert tcp any any -> any any (dsize:10<>11; sid:1;)", 41, "upper bound exceeds"),
        ("alert tcp any any -> any any (flags:SX; sid:1;)", 38, "expected a flag letter"),
        ("alert tcp any any -> any any (content:\"x\"; bsize:3; sid:1;)", 50, "expected a sticky buffer before bsize"),
        ("alert tcp any any -> any any (dotprefix; sid:1;)", 31, "expected a sticky buffer before a transform"),
        ("alert dns any any -> any any (http.uri; content:\"x\"; sid:1;)", 31, "needs protocol http, but the rule is for dns"),
        ("alert tcp any any -> any any (http.uri; content:\"x\"; http_uri; sid:1;)", 54, "already in buffer 'http.uri'"),
        ("alert tcp any any -> any any (http.uri; pcre:\"/x/H\"; sid:1;)", 50, "can't be used while sticky buffer 'http.uri'"),
        ("alert tcp any any -> any any (content:\"a\"; fast_pattern; content:\"b\"; fast_pattern; sid:1;)", 71, "already set on another content"),
        ("alert tcp any any -> any any (content:\"abc\"; fast_pattern:2,2; sid:1;)", 59, "runs past the end"),
        ("alert tcp any any -> any any (content:!\"abc\"; depth:3; fast_pattern; sid:1;)", 56, "negated content"),
        ("alert tcp any any -> any any (classtype:nope; sid:1;)", None, None),
    ],
)
def test_error_location(text: str, column: int | None, fragment: str | None) -> None:
    if column is None:  # without a classification file any classtype is accepted
        assert parse_rule(text).classtype == "nope"
        return
    err = error_of(text)
    assert (err.file, err.line) == ("t.rules", 7)
    assert err.column == column, (err.column, str(err))
    assert fragment in err.message
    assert str(err).startswith(f"t.rules:7:{column}: ")


def test_error_message_names_keyword() -> None:
    err = error_of('alert tcp any any -> any any (content:"abcd"; within:3; sid:1;)')
    assert err.message == "within: within 3 is smaller than the content length 4"


def test_unsupported_keyword_is_not_a_syntax_error() -> None:
    with pytest.raises(RuleUnsupported) as info:
        parse_rule('alert tcp any any -> any any (content:"a"; asn1:oversize_length 10; sid:1;)')
    assert info.value.reason == "unsupported keyword 'asn1'"


@pytest.mark.parametrize("proto", ["smb", "ftp", "smtp", "ssh", "krb5", "dcerpc"])
def test_unparsed_app_protocol_disables(proto: str) -> None:
    with pytest.raises(RuleUnsupported) as info:
        parse_rule(f"alert {proto} any any -> any any (sid:1;)")
    assert info.value.reason == f"app-layer protocol '{proto}' not supported"


def test_bracket_list_with_spaces_and_variable_error_column() -> None:
    sig = parse_rule("alert tcp [10.0.0.0/8, 192.168.1.1] any -> any [80, 443] (sid:1;)")
    assert sig.src_addr.contains("10.9.9.9") and sig.dst_ports.contains(443)


def test_continued_rule_points_at_physical_line() -> None:
    from services.ips.signatures.parser import iter_rules, parse_source

    text = 'alert tcp any any -> any any ( \\\n    msg:"x"; \\\n    content:"a|zz|"; sid:1;)\n'
    [(src, _)] = list(iter_rules(text, "multi.rules"))
    with pytest.raises(RuleSyntaxError) as info:
        parse_source(src)
    assert (info.value.line, info.value.column) == (3, 16)
