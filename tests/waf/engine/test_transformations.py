"""Transformation vectors, following ModSecurity v3's byte-level semantics (values are latin-1)."""

from __future__ import annotations

import pytest

from services.waf.transformations import TRANSFORMATIONS, lookup
from tests.waf.engine.helpers import ids, ruleset, run

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


LONG = "Z" * 300  # beyond SHARED_TRANSFORM_MAX_VALUE: cached per transaction only


def test_transformed_value_is_cached_per_transaction() -> None:
    rules = (
        'SecRule ARGS "@rx ^xz+$" "id:1,phase:2,pass,t:lowercase"\n'
        'SecRule ARGS "@rx ^XZ+$" "id:2,phase:2,pass,t:none"\n'
        'SecRule ARGS "@rx ^xz+$" "id:3,phase:2,pass,t:lowercase"\n'
    )
    tx = run(rules, "/?a=X" + LONG)
    assert ids(tx) == [1, 2, 3]
    assert tx._cache == {("lowercase",): {"X" + LONG: "x" + LONG.lower()}}


def test_short_values_are_cached_for_the_process() -> None:
    from services.waf.engine.transaction import _SHARED_TRANSFORMS

    rules = 'SecRule ARGS "@rx ^short-x$" "id:1,phase:2,pass,t:lowercase,t:removeNulls"\n'
    first, second = run(rules, "/?a=SHORT-X"), run(rules, "/?a=SHORT-X")
    assert ids(first) == ids(second) == [1]
    assert first._cache == second._cache == {}
    assert _SHARED_TRANSFORMS[("lowercase", "removeNulls")]["SHORT-X"] == "short-x"
    assert _SHARED_TRANSFORMS[("lowercase",)]["SHORT-X"] == "short-x"


def test_transformation_cache_reuses_chain_prefixes() -> None:
    """A chain extending one already applied starts from the cached prefix (ModSecurity v3's
    per-prefix cache) and gives exactly what applying the whole chain gives."""
    rules = (
        'SecRule ARGS "@rx ^x y" "id:1,phase:2,pass,t:urlDecodeUni"\n'
        'SecRule ARGS "@rx ^x y" "id:2,phase:2,pass,t:urlDecodeUni,t:lowercase"\n'
        'SecRule ARGS "@rx ^xyz" "id:3,phase:2,pass,t:urlDecodeUni,t:lowercase,t:removeWhitespace"\n'
        'SecRule ARGS "@rx ^xyz" "id:4,phase:2,pass,t:lowercase,t:removeWhitespace"\n'
    )
    tx = run(rules, "/?a=X%2520Y" + LONG)
    assert ids(tx) == [2, 3]
    raw = "X%20Y" + LONG
    assert tx._cache[("urlDecodeUni",)] == {raw: "X Y" + LONG}
    assert tx._cache[("urlDecodeUni", "lowercase")] == {raw: "x y" + LONG.lower()}
    assert tx._cache[("urlDecodeUni", "lowercase", "removeWhitespace")] == {raw: "xy" + LONG.lower()}
    assert tx._cache[("lowercase", "removeWhitespace")] == {raw: "x%20y" + LONG.lower()}


def _cmd_line_reference(value: str) -> str:
    """ModSecurity's cmdLine as its character loop states it (the reference for the C-level
    implementation in services/waf/transformations/cmd_line.py)."""
    out: list[str] = []
    space = False
    for ch in value:
        if ch in "\\\"'^":
            continue
        if ch in " \t\r\n,;":
            if not space:
                out.append(" ")
                space = True
        elif ch in "/(":
            if space:
                out.pop()
            space = False
            out.append(ch)
        else:
            out.append(ch.lower() if "A" <= ch <= "Z" else ch)
            space = False
    return "".join(out)


def test_cmd_line_matches_the_character_loop_on_random_input() -> None:
    import random

    from services.waf.transformations.cmd_line import cmd_line

    rng = random.Random(932)
    alphabet = "aZ\\\"'^ \t\r\n,;/(.|\xc0\xff0"
    for _ in range(3000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert cmd_line(value) == _cmd_line_reference(value), repr(value)


def test_process_wide_cache_stays_bounded() -> None:
    from services.waf.engine import transaction as engine_tx

    rs = ruleset('SecRule ARGS "@rx ^never$" "id:1,phase:2,pass,t:lowercase,t:trim"\n')
    rule = rs.rules()[0]
    tx = run(rs, "/")
    for index in range(engine_tx.SHARED_TRANSFORM_ENTRIES * 2 + 5):
        assert tx._transform(rule, f" Bound-{index} ") == f"bound-{index}"
    shared = engine_tx._SHARED_TRANSFORMS
    assert 0 < len(shared[("lowercase", "trim")]) <= engine_tx.SHARED_TRANSFORM_ENTRIES
    assert 0 < len(shared[("lowercase",)]) <= engine_tx.SHARED_TRANSFORM_ENTRIES
    assert tx._cache == {}  # short values never go to the transaction's own cache
