from __future__ import annotations

import pytest

from shared.packs.regex_lint import backtracking_risks


@pytest.mark.parametrize("pattern,code", [
    (rb"(a+)+$", "nested-quantifier"),
    (rb"^(\w+\s?)*$", "nested-quantifier"),
    (rb"(?:x*)*y", "nested-quantifier"),
    (rb"((?:ab|cd)+)*z", "nested-quantifier"),
    (rb"(?:ab|\w\w)+!", "overlapping-alternation"),
    (rb"(?i)(?:A|ab)+c", "overlapping-alternation"),
    (rb"(a+){10,}", "nested-quantifier"),
])
def test_exponential_shapes_are_found(pattern: bytes, code: str) -> None:
    assert [f.code for f in backtracking_risks(pattern)] == [code]


@pytest.mark.parametrize("pattern", [
    rb"(ab+)+",                      # a new iteration must start with 'a', which b+ cannot consume
    rb"(\w+\s)+",                    # the separator is mandatory
    rb"(?:[\s(+]|/\*.*?\*/)+",       # branches start with different characters
    rb"^[a-z0-9_-]{3,16}$",
    rb"(?:a+)++",                    # possessive: nothing to backtrack into
    rb"(?>a+)+b",                    # atomic group
    rb"(a+){2}",                     # a small bounded repeat is polynomial at worst
    rb"\bunion\s+select\b",
])
def test_safe_shapes_pass(pattern: bytes) -> None:
    assert backtracking_risks(pattern) == []
