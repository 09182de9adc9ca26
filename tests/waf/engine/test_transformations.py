"""Transformation vectors, following ModSecurity v3's byte-level semantics (values are latin-1)."""

from __future__ import annotations

import pytest

from services.waf.transformations import TRANSFORMATIONS, lookup
from tests.waf.engine.helpers import ids, run

VECTORS = [
    ("none", "AbC %41", "AbC %41"),
    ("lowercase", "SeLeCt \xc0X", "select \xc0x"),
    ("urlDecode", "a%20b+c%2Bd", "a b c+d"),
    ("urlDecode", "100%+%zz%4", "100% %zz%4"),
    ("urlDecode", "%00%ff", "\x00\xff"),
    ("urlDecode", "%u0041", "%u0041"),
    ("urlDecodeUni", "%u0041%u003cx", "A<x"),
    ("urlDecodeUni", "%uff1cscript%uFF1E", "<script>"),
    ("urlDecodeUni", "%u2215", "\x15"),
    ("urlDecodeUni", "%u12%41+", "%u12A "),
    ("urlDecodeUni", "%U0041", "A"),
    ("htmlEntityDecode", "&lt;a&gt; &amp;&quot;&nbsp;", '<a> &"\xa0'),
    ("htmlEntityDecode", "&#60;&#x3c;&#X3C&#0060x", "<<<<x"),
    ("htmlEntityDecode", "&LT; &bogus; & &#; &#x;", "< &bogus; & &#; &#x;"),
    ("htmlEntityDecode", "&#x13c;", "<"),
    ("compressWhitespace", "a \t\n\r\x0b\x0c\xa0b  c", "a b c"),
    ("removeWhitespace", " u n\ti\xa0on ", "union"),
    ("removeNulls", "a\x00b\x00", "ab"),
    ("replaceNulls", "a\x00b", "a b"),
    ("trim", " \t\n x y \r\x0b\x0c", "x y"),
    ("trim", "\xa0x\xa0", "\xa0x\xa0"),
    ("length", "héllo".encode().decode("latin-1"), "6"),
    ("length", "", "0"),
    ("base64Decode", "PHNjcmlwdD4=", "<script>"),
    ("base64Decode", "PHNjcmlwdD4", "<script>"),
    ("base64Decode", "PHNj!garbage", "<sc"),
    ("hexDecode", "3c7363726970743e", "<script>"),
    ("hexDecode", "zz", "zz"),
]


@pytest.mark.parametrize(("name", "value", "expected"), VECTORS, ids=[f"{v[0]}-{i}" for i, v in enumerate(VECTORS)])
def test_vector(name: str, value: str, expected: str) -> None:
    definition = lookup(name)
    assert definition is not None
    assert definition.func(value) == expected


def test_lookup_is_case_insensitive_and_table_complete() -> None:
    assert lookup("URLDECODEUNI") is lookup("urlDecodeUni")
    for name in ("none", "lowercase", "urlDecode", "urlDecodeUni", "htmlEntityDecode", "compressWhitespace",
                 "removeWhitespace", "removeNulls", "replaceNulls", "trim", "length", "base64Decode", "hexDecode"):
        assert name.lower() in TRANSFORMATIONS


def test_transformations_apply_in_order_and_none_resets_defaults() -> None:
    rules = (
        'SecDefaultAction "phase:2,log,pass,t:lowercase"\n'
        'SecRule ARGS:a "@streq select" "id:1"\n'
        'SecRule ARGS:a "@streq SELECT" "id:2,t:none"\n'
        'SecRule ARGS:a "@streq 6" "id:3,t:urlDecodeUni,t:length"\n'
        'SecRule ARGS:a "@streq 6" "id:4,t:length,t:urlDecodeUni"\n'
    )
    assert ids(run(rules, "/?a=SEL%2545CT")) == [3]
    assert ids(run(rules, "/?a=SELECT")) == [1, 2, 3, 4]


def test_transformed_value_is_cached_per_transaction() -> None:
    rules = (
        'SecRule ARGS "@rx ^x$" "id:1,phase:2,pass,t:lowercase"\n'
        'SecRule ARGS "@rx ^X$" "id:2,phase:2,pass,t:none"\n'
        'SecRule ARGS "@rx ^x$" "id:3,phase:2,pass,t:lowercase"\n'
    )
    tx = run(rules, "/?a=X")
    assert ids(tx) == [1, 2, 3]
    assert tx._cache == {(("lowercase",), "X"): "x"}
