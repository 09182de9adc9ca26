"""isdataat, bsize, urilen, dsize and the integer comparison forms they share."""

from __future__ import annotations

import pytest

from services.ips.signatures.keywords.dsize import Dsize
from services.ips.signatures.numbers import NumberError, parse_uint_cmp
from tests.ips.signatures.helpers import matches, payload_match, rule


class Pkt:
    def __init__(self, **kw) -> None:
        self.__dict__.update(kw)


@pytest.mark.parametrize(
    ("options", "data", "expected"),
    [
        ("isdataat:3;", b"abcd", True),
        ("isdataat:4;", b"abcd", False),
        ("isdataat:!4;", b"abcd", True),
        ('content:"ab"; isdataat:2,relative;', b"abcd", True),
        ('content:"ab"; isdataat:3,relative;', b"abcd", False),
        ('content:"ab"; isdataat:!1,relative;', b"xxab", True),
        ('content:"ab"; isdataat:!1,relative;', b"abab!", False),
    ],
)
def test_isdataat(options: str, data: bytes, expected: bool) -> None:
    assert payload_match(options, data) is expected


@pytest.mark.parametrize(
    ("text", "yes", "no"),
    [("5", [5], [4, 6]), ("<5", [4], [5]), (">5", [6], [5]), ("<=5", [5], [6]), (">=5", [5], [4]),
     ("!5", [4, 6], [5]), ("5<>8", [6, 7], [5, 8]), ("5-8", [6], [8])],
)
def test_uint_forms(text: str, yes: list[int], no: list[int]) -> None:
    cmp = parse_uint_cmp(text, 65535)
    assert all(cmp.test(v) for v in yes) and not any(cmp.test(v) for v in no)


def test_uint_errors() -> None:
    for bad in ("", "x", "<", "5<>", "<0"):
        with pytest.raises(NumberError):
            parse_uint_cmp(bad, 255)


def test_bsize_and_urilen() -> None:
    sig = rule('dns.query; bsize:<12; content:".top"; endswith;', "alert dns any any -> any any")
    assert matches(sig, b"abc.top", "dns.query") and not matches(sig, b"abcdefgh.top", "dns.query")
    uri = rule("urilen:>5;")
    assert uri.buffer_names() == ("http.uri",) and matches(uri, b"/abcdef", "http.uri")
    assert not matches(uri, b"/abc", "http.uri")
    assert rule("urilen:3<>9,raw;").buffer_names() == ("http.uri.raw",)


def test_dsize_is_a_packet_check() -> None:
    sig = rule("dsize:>3;")
    [check] = sig.packet_checks
    assert isinstance(check, Dsize)
    assert check.match(Pkt(payload=b"abcd")) and not check.match(Pkt(payload=b"abc"))
    assert not check.match(Pkt())
