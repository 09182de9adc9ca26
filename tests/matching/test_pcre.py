"""PCRE-to-Python translation and Hyperscan escaping, checked by what the result matches."""

from __future__ import annotations

import re

import pytest

from shared.matching.pcre import PcreTranslationError, escape_for_hyperscan, to_python

# (PCRE expression, subjects that must match, subjects that must not)
VECTORS = [
    (rb"a(?i)b|c", [b"aB", b"C"], [b"AB"]),
    (rb"(?i)select\s+from", [b"SeLeCt FROM"], [b"selectfrom"]),
    (rb"(a(?i)b)c", [b"aBc"], [b"aBC"]),
    (rb"(?i:a(?-i)b)c", [b"Abc"], [b"ABc", b"abC"]),
    (rb"ab\z", [b"xab"], [b"xab\n"]),
    (rb"ab\Z", [b"xab", b"xab\n"], [b"xab\n\n"]),
    (rb"\Qa.b*\E+", [b"a.b**"], [b"axb"]),
    (rb"[[:alpha:]_]+=[[:digit:]]", [b"a_=1"], [b"1=1"]),
    (rb"^[^[:^digit:]x]$", [b"5"], [b"x", b"a"]),
    (rb"a\hb\vc", [b"a\tb\nc", b"a\xa0b\x85c"], [b"a\nb\tc"]),
    (rb"(?<n>['\x22])x\k<n>", [b"'x'"], [b"'x\""]),
    (rb"(?'n'a)\k{n}\g{n}", [b"aaa"], [b"aa"]),
    (rb"(a)(b)\g{-1}\g1", [b"abba"], [b"abab"]),
    (rb"x{,3}", [b"x{,3}"], [b"xxx"]),
    (rb"[[<]+", [b"[<"], [b"a"]),
    (rb"[]a]", [b"]"], [b"b"]),
    (rb"[a-\d]", [b"-", b"5"], [b"b"]),
    (rb"\x4\x{41}\e\cA\o{101}\0", [b"\x04A\x1b\x01A\x00"], [b"x"]),
    (rb"(?x) a b # comment\n c", [b"abc"], [b"a b c"]),
    (rb"a\Rb", [b"a\r\nb", b"a\nb"], [b"ab"]),
    (rb"a\Nb", [b"axb"], [b"a\nb"]),
    (rb"(?#comment)ab", [b"ab"], [b"a"]),
    (rb"a++b", [b"aab"], [b"aa"]),
    (rb"(?s).", [b"\n"], [b""]),
    (rb"[\d-z]", [b"-", b"1", b"z"], [b"y"]),
    (rb"\d+[\x41-\x43]", [b"1B"], [b"1D"]),
]


@pytest.mark.parametrize(("expression", "hits", "misses"), VECTORS)
def test_translation_matches_like_pcre(expression: bytes, hits: list[bytes], misses: list[bytes]) -> None:
    regex = re.compile(to_python(expression))
    for subject in hits:
        assert regex.search(subject), (expression, subject)
    for subject in misses:
        assert not regex.search(subject), (expression, subject)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (rb"a\G", "unsupported escape \\G"),
        (rb"(?|a|b)", "branch reset"),
        (rb"(?R)", "recursion"),
        (rb"(*UTF8)a", "PCRE verbs"),
        (rb"(?U)a+", "unsupported inline option(s) 'U'"),
        (rb"\x{100}", "above 0xff"),
        (rb"(a", "missing closing parenthesis"),
        (rb"a)", "unmatched closing parenthesis"),
        (rb"[a", "missing terminating ]"),
        (rb"[[:nope:]]", "unknown POSIX class 'nope'"),
        (rb"[z-a]", "range out of order"),
        (rb"a\\", None),
    ],
)
def test_untranslatable_constructs_are_reported(expression: bytes, message: str | None) -> None:
    if message is None:  # an escaped backslash is fine
        assert re.compile(to_python(expression)).search(b"a\\")
        return
    with pytest.raises(PcreTranslationError, match=re.escape(message)):
        to_python(expression)


def test_escape_for_hyperscan_removes_raw_bytes() -> None:
    out = escape_for_hyperscan(b"a\x00b\\\x01[\x80-\xff]\\Qx\x00y\\E")
    assert out == b"a\\x00b\\x01[\\x80-\\xff]\\Qx\\E\\x00\\Qy\\E"
    assert all(0x20 <= c < 0x7F for c in out)
