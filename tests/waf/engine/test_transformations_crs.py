"""Vectors for the transformations CRS 3.3 / 4 use beyond the basic set (ModSecurity semantics)."""

from __future__ import annotations

import hashlib

import pytest

from services.waf.transformations import lookup
from tests.waf.engine.helpers import ids, run

VECTORS = [
    ("sha1", "abc", hashlib.sha1(b"abc").digest().decode("latin-1")),
    ("md5", "abc", hashlib.md5(b"abc").digest().decode("latin-1")),
    ("hexEncode", "a\x00\xff", "6100ff"),
    ("jsDecode", r"\x3cscr\u0069pt\x3e", "<script>"),
    ("jsDecode", r"\uff1c\101\7\n\q", "<A\x07\nq"),
    ("jsDecode", "\\x4\\u12 end\\", "\\x4\\u12 end\\"),
    ("cssDecode", "e\\78 pression", "expression"),
    ("cssDecode", "\\3c \\00003c\\ff1c|\\\nx\\", "<<<|x"),
    ("cmdLine", "c^ommand /c \"w\"h'o'am\\i", "command/c whoami"),
    ("cmdLine", "CAT  ,;/etc/passwd  (x)", "cat/etc/passwd(x)"),
    ("normalizePath", "/a/b/../../etc/./passwd", "/etc/passwd"),
    ("normalizePath", "/../../x//y/", "/x/y/"),
    ("normalizePath", "../a/./../../b", "../../b"),
    ("normalisePath", "/a/./b/.", "/a/b/"),
    ("normalizePathWin", "c:\\windows\\..\\boot.ini", "c:/boot.ini"),
    ("replaceComments", "UNION/**/SELECT/*x", "UNION SELECT "),
    ("removeComments", "a/*x*/b<!--y-->c-- tail", "abc"),
    ("removeComments", "1 #comment", "1 "),
    ("removeCommentsChar", "a/*b*/c--d#e<!--f-->", "abcdef"),
    ("utf8toUnicode", "a\xef\xbc\x9c\xc3\xa9\xff", "a%uff1c%u00e9\xff"),
    ("base64DecodeExt", "PHNj.cmlw dA==garbage", "<script"),
    ("escapeSeqDecode", "\\x2fetc\\057passwd\\n\\q", "/etc/passwd\n\\q"),
    ("sqlHexDecode", "0x414243 0x4", "ABC 0x4"),
    ("urlEncode", "a b/c*", "a+b%2fc*"),
    ("trimLeft", " \tx ", "x "),
    ("trimRight", " x \n", " x"),
]


@pytest.mark.parametrize(("name", "value", "expected"), VECTORS)
def test_vector(name: str, value: str, expected: str) -> None:
    definition = lookup(name)
    assert definition is not None, name
    assert definition.func(value) == expected


def test_sha1_then_hex_encode_as_crs_901318_uses_it() -> None:
    rules = (
        'SecRule REQUEST_HEADERS:User-Agent "@rx ^.*$" '
        '"id:1,phase:1,pass,t:none,t:sha1,t:hexEncode,setvar:tx.ua_hash=%{MATCHED_VAR}"\n'
    )
    tx = run(rules, headers=[("Host", "h"), ("User-Agent", "curl/8")])
    assert tx.state.tx["ua_hash"] == hashlib.sha1(b"curl/8").hexdigest()


def test_cmd_line_catches_an_obfuscated_command_in_a_rule() -> None:
    rules = 'SecRule ARGS "@contains /etc/passwd" "id:1,phase:2,deny,t:none,t:cmdLine"\n'
    assert ids(run(rules, "/?c=ca%5Et%20%22/etc/pa%27%27sswd%22")) == [1]
