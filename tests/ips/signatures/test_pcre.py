"""pcre: flags, relative matching from the previous match, legacy buffer flags, negation."""

from __future__ import annotations

import pytest

from services.ips.signatures import RuleUnsupported
from tests.ips.signatures.helpers import matches, payload_match, rule


@pytest.mark.parametrize(
    ("options", "data", "expected"),
    [
        ('pcre:"/a.c/";', b"xxabcxx", True),
        ('pcre:"/A.C/i";', b"xxabc", True),
        ('pcre:"/^abc/";', b"xabc", False),
        ('pcre:"/a.c/s";', b"a\nc", True),
        ('pcre:"/a.c/";', b"a\nc", False),
        ('pcre:"/^b/m";', b"a\nb", True),
        ('pcre:"/ a b c /x";', b"abc", True),
        ('pcre:!"/evil/";', b"good", True),
        ('pcre:!"/evil/";', b"evil", False),
        ('pcre:"/\\x41\\;/";', b"A;", True),
        ('content:"key="; pcre:"/^[0-9]+&/R";', b"key=x&key=12&", True),  # ^ anchors after the match, retried
        ('content:"key="; pcre:"/^[0-9]+&/R";', b"key=x&", False),
        ('pcre:"/ab/"; content:"c"; distance:0; within:1;', b"abx abc", True),  # content relative to pcre, pcre retried
        ('pcre:"/bc/A";', b"abc", False),
        ('pcre:"/ab/A";', b"abc", True),
    ],
)
def test_pcre(options: str, data: bytes, expected: bool) -> None:
    assert payload_match(options, data) is expected


def test_legacy_buffer_flags() -> None:
    sig = rule('pcre:"/^\\/admin/Ui";')
    assert sig.buffer_names() == ("http.uri",) and sig.app_proto.value == "http"
    assert matches(sig, b"/ADMIN/x", "http.uri")
    assert rule('pcre:"/x/H";').buffer_names() == ("http.header",)
    assert rule('http.uri; pcre:"/x/U";').buffer_names() == ("http.uri",)  # same buffer as the sticky one


@pytest.mark.parametrize("expr", ['"/a/G"', '"/(?R)/"', '"/a$/E"'])
def test_untranslatable_pcre_disables_rule(expr: str) -> None:
    with pytest.raises(RuleUnsupported):
        rule(f"pcre:{expr};")
