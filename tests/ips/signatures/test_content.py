"""content and its modifiers, inspected as Suricata does (windows, relative matches, backtracking)."""

from __future__ import annotations

import pytest

from tests.ips.signatures.helpers import payload_match


@pytest.mark.parametrize(
    ("options", "data", "expected"),
    [
        ('content:"abc";', b"xxabcxx", True),
        ('content:"ABC";', b"xxabcxx", False),
        ('content:"ABC"; nocase;', b"xxabcxx", True),
        ('content:"|41 42|C";', b"ABC", True),
        ('content:"a\\;b";', b"a;b", True),
        ('content:"abc"; depth:4;', b"xabc", True),
        ('content:"abc"; depth:4;', b"xxabc", False),
        ('content:"abc"; offset:2;', b"xabc", False),
        ('content:"abc"; offset:1; depth:3;', b"xabc", True),  # window [offset, offset+depth)
        ('content:"abc"; offset:1; depth:3;', b"xxabc", False),
        ('content:"abc"; startswith;', b"abcx", True),
        ('content:"abc"; startswith;', b"xabc", False),
        ('content:"abc"; endswith;', b"xxabc", True),
        ('content:"abc"; endswith;', b"abcabx", False),
        ('content:"abc"; endswith;', b"abcxabc", True),
        ('content:"ABC"; nocase; endswith;', b"xabc", True),
        ('content:!"evil";', b"good", True),
        ('content:!"evil";', b"so evil", False),
        ('content:!"evil"; depth:4;', b"so evil", True),
        # relative: the window starts at the end of the previous match (+distance)
        ('content:"a"; content:"b"; distance:0; within:1;', b"a_xab", True),  # backtracking to the 2nd "a"
        ('content:"a"; content:"b"; distance:0; within:1;', b"a_xa_b", False),
        ('content:"a"; content:"b"; distance:1;', b"ab", False),
        ('content:"a"; content:"b"; distance:1;', b"a_b", True),
        ('content:"ab"; content:"c"; distance:-2; within:3;', b"abc", True),  # negative distance
        ('content:"a"; content:"bc"; distance:2; within:2;', b"a..bc", True),  # within counts from prev+distance
        ('content:"a"; content:"bc"; distance:2; within:2;', b"a...bc", False),
        ('content:"a"; content:"b"; within:2; content:"c"; distance:0; within:1;', b"a_b a_bc", True),
        ('content:"a"; content:!"b"; distance:0; within:1;', b"ab ac", True),  # second "a" not followed by b
        ('content:"a"; content:!"b"; distance:0; within:1;', b"ab ab", False),
        ('content:"GET"; depth:3; content:"x"; distance:0; within:1;', b"GETyGETx", False),  # depth fixed
        ('content:"x"; content:"y"; distance:0; endswith;', b"xyzxy", True),
    ],
)
def test_content(options: str, data: bytes, expected: bool) -> None:
    assert payload_match(options, data) is expected


def test_backtracking_is_bounded() -> None:
    data = b"a" * 5000
    assert payload_match('content:"a"; content:"a"; distance:0; within:1; content:"b"; distance:0;', data) is False


def test_rawbytes_is_accepted() -> None:
    assert payload_match('content:"x"; rawbytes;', b"x")
