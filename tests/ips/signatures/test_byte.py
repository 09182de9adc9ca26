"""byte_test / byte_jump / byte_extract: number reading, cursor movement, variables."""

from __future__ import annotations

import pytest

from services.ips.signatures import RuleUnsupported
from tests.ips.signatures.helpers import payload_match, rule


@pytest.mark.parametrize(
    ("options", "data", "expected"),
    [
        ("byte_test:2,=,258,0;", b"\x01\x02", True),
        ("byte_test:2,=,513,0,little;", b"\x01\x02", True),
        ("byte_test:2,>,1000,1;", b"\x00\x10\x00", True),
        ("byte_test:2,<,1000,1;", b"\x00\x10\x00", False),
        ("byte_test:2,!=,5,0;", b"\x00\x05", False),
        ("byte_test:2,!>,5,0;", b"\x00\x05", True),
        ("byte_test:1,&,0x80,0;", b"\x81", True),
        ("byte_test:1,&,0x80,0;", b"\x01", False),
        ("byte_test:1,^,0x01,0;", b"\x01", False),
        ("byte_test:4,=,0,2;", b"\x00\x00\x00", False),  # out of the buffer: no match
        ("byte_test:3,=,123,0,string,dec;", b"123", True),
        ("byte_test:2,=,255,0,string,hex;", b"ff", True),
        ("byte_test:3,=,8,0,string,oct;", b"010", True),
        ("byte_test:0,=,0,0,string,dec;", b"0", True),  # Suricata 7: nbytes 0 reads the whole buffer
        ("byte_test:2,=,3,0,bitmask 0x0f00;", b"\x03\xff", True),  # masked then shifted right
        ('content:"LEN"; byte_test:1,>,5,0,relative;', b"xxLEN\x09", True),
        ('content:"LEN"; byte_test:1,>,5,-4,relative;', b"\x09LEN", True),
        # byte_jump: land after the field it reads, plus the value
        ('byte_jump:1,0; content:"X"; within:1;', b"\x02abX", True),
        ('byte_jump:1,0; content:"X"; within:1;', b"\x01abX", False),
        ('byte_jump:1,0,multiplier 2; content:"X"; within:1;', b"\x01abX", True),
        ('byte_jump:1,0,align; content:"X"; within:1;', b"\x01abcX", False),  # value 1 aligns to 4
        ('byte_jump:1,0,from_beginning; content:"X"; within:1;', b"\x03abX", True),
        ('byte_jump:1,0,post_offset -1; content:"bX"; within:2;', b"\x02abX", True),
        ("byte_jump:1,0;", b"\x09ab", False),  # jumps out of the buffer
        ('content:"|ff|"; byte_jump:1,0,relative; content:"X"; within:1;', b"\xff\x00X", True),
        ('byte_jump:2,0,string,dec; content:"Z"; within:1;', b"03abcZ", True),
        # byte_extract: a variable for later keywords, and the cursor after the bytes read
        ('byte_extract:1,0,len; content:"X"; distance:len; within:1;', b"\x02abX", True),
        ('byte_extract:1,0,len; content:"X"; distance:len; within:1;', b"\x01abX", False),
        ('byte_extract:1,0,v; byte_test:1,=,v,1;', b"\x07\x07", True),
        ('byte_extract:1,0,v; byte_test:1,=,v,1;', b"\x07\x08", False),
        ('byte_extract:1,0,off; isdataat:off;', b"\x03abc", True),
        ('byte_extract:1,0,off; isdataat:off;', b"\x03ab", False),
        ('byte_extract:1,0,n,multiplier 2; content:"X"; distance:n; within:1;', b"\x01abX", True),
        ('byte_extract:1,0,n,align 4; content:"X"; distance:n; within:1;', b"\x01abcdX", True),
        ('byte_extract:1,0,d; content:"Q"; offset:d; depth:1;', b"\x02aQ", True),
    ],
)
def test_byte_keywords(options: str, data: bytes, expected: bool) -> None:
    assert payload_match(options, data) is expected


def test_align_rounds_the_jump_value() -> None:
    # value 1 rounds to 4; landing = 0 + 1 (nbytes) + 4 = 5
    assert payload_match('byte_jump:1,0,align; content:"X"; within:1;', b"\x01abcdX")


def test_dce_disables_rule() -> None:
    with pytest.raises(RuleUnsupported, match="dce"):
        rule("byte_test:4,>,1,0,dce;")


def test_unknown_variable_is_an_error() -> None:
    from services.ips.signatures import RuleSyntaxError

    with pytest.raises(RuleSyntaxError, match="byte_extract variable"):
        rule('content:"a"; distance:nope;')
