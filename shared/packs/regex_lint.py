"""Static checks of one regular expression: how it will run, and whether backtracking can explode.

Hyperscan runs a pattern as an automaton, in time linear in the input, whatever its shape. Patterns
it rejects (back references, lookaround) run on Python ``re`` (alone, or confirming Hyperscan
prefilter candidates), and so does every capture (``capture`` fills TX:0-9 with a ``re`` search):
a backtracking matcher, where ``(a+)+$`` takes 2^n steps on ``aaaa...!``. A WAF rule meets
attacker-chosen input, so such a pattern is a denial-of-service switch (CVE-2019-11358-style ReDoS;
Suricata caps PCRE with ``pcre.match-limit`` for the same reason).

The analysis works on the parse tree Python's own ``re`` builds (``re._parser``, the former
``sre_parse``) rather than timing the pattern, so it is deterministic and fast. It finds the two
shapes behind nearly every exponential case (the heuristics of rxxr2 and safe-regex):

- nested quantifiers: a repeated group whose body ends in an unbounded repeat that can match the
  group's first character again, e.g. ``(a+)+``, ``(\\w+\\s?)*``; ``(ab+)+`` is fine because a new
  iteration must start with ``a``, which ``b+`` cannot consume.
- overlapping alternation under a quantifier: ``(\\w|\\d)+``, ``(a|ab)*``: two branches can start
  with the same character, so every position may be split two ways.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from re import _constants as C  # type: ignore[attr-defined]
from re import _parser as P  # type: ignore[attr-defined]

ALL = frozenset(range(256))
_DIGIT = frozenset(range(0x30, 0x3A))
_WORD = frozenset(list(range(0x30, 0x3A)) + list(range(0x41, 0x5B)) + list(range(0x61, 0x7B)) + [0x5F])
_SPACE = frozenset(b" \t\n\r\f\v")
_CATEGORIES = {
    C.CATEGORY_DIGIT: _DIGIT, C.CATEGORY_NOT_DIGIT: ALL - _DIGIT,
    C.CATEGORY_WORD: _WORD, C.CATEGORY_NOT_WORD: ALL - _WORD,
    C.CATEGORY_SPACE: _SPACE, C.CATEGORY_NOT_SPACE: ALL - _SPACE,
}
_REPEATS = {C.MAX_REPEAT, C.MIN_REPEAT}
BIG_REPEAT = 10  # a bounded outer repeat this large still multiplies the paths (polynomial degree)


@dataclass(frozen=True, slots=True)
class Finding:
    code: str          # "nested-quantifier" | "overlapping-alternation"
    message: str


def _fold(chars: frozenset[int], caseless: bool) -> frozenset[int]:
    if not caseless:
        return chars
    extra = {c ^ 0x20 for c in chars if 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A}
    return chars | extra


def _class(items: list, caseless: bool) -> frozenset[int]:
    out: set[int] = set()
    negate = False
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            out.add(av & 0xFF)
        elif op is C.RANGE:
            out.update(range(av[0] & 0xFF, min(av[1], 255) + 1))
        elif op is C.CATEGORY:
            out |= _CATEGORIES.get(av, ALL)
        else:
            out |= ALL
    chars = _fold(frozenset(out), caseless)
    return ALL - chars if negate else chars


class _Analyzer:
    def __init__(self, caseless: bool) -> None:
        self.caseless = caseless
        self.findings: list[Finding] = []

    # first(item): the characters a match of the item can start with, and whether it can be empty
    def first(self, op, av) -> tuple[frozenset[int], bool]:
        if op is C.LITERAL:
            return _fold(frozenset({av & 0xFF}), self.caseless), False
        if op is C.NOT_LITERAL:
            return ALL - _fold(frozenset({av & 0xFF}), self.caseless), False
        if op is C.ANY:
            return ALL, False
        if op is C.IN:
            return _class(av, self.caseless), False
        if op is C.SUBPATTERN:
            return self.seq_first(av[3])
        if op is C.ATOMIC_GROUP:
            return self.seq_first(av)
        if op is C.BRANCH:
            chars: frozenset[int] = frozenset()
            nullable = False
            for alt in av[1]:
                c, n = self.seq_first(alt)
                chars, nullable = chars | c, nullable or n
            return chars, nullable
        if op in _REPEATS or op is C.POSSESSIVE_REPEAT:
            c, n = self.seq_first(av[2])
            return c, n or av[0] == 0
        if op is C.GROUPREF_EXISTS:
            c1, n1 = self.seq_first(av[1])
            c2, n2 = self.seq_first(av[2]) if av[2] is not None else (frozenset(), True)
            return c1 | c2, n1 or n2
        if op is C.GROUPREF:
            return ALL, True
        return frozenset(), True  # AT (anchors), ASSERT, ASSERT_NOT: consume nothing

    def seq_first(self, seq) -> tuple[frozenset[int], bool]:
        chars: frozenset[int] = frozenset()
        for op, av in seq:
            c, n = self.first(op, av)
            chars |= c
            if not n:
                return chars, False
        return chars, True

    def tail_repeats(self, seq) -> list[tuple]:
        """Unbounded repeats a match of ``seq`` can end in (only empty-able items after them)."""
        out: list[tuple] = []
        for op, av in reversed(list(seq)):
            if op in _REPEATS and (av[1] == C.MAXREPEAT or av[1] > 1):
                out.append((op, av))
                out += self.tail_repeats(av[2])
            elif op is C.SUBPATTERN:
                out += self.tail_repeats(av[3])
            elif op is C.BRANCH:
                for alt in av[1]:
                    out += self.tail_repeats(alt)
            if not self.first(op, av)[1]:
                break
        return out

    def walk(self, seq, inside_atomic: bool = False) -> None:
        for op, av in seq:
            if op in _REPEATS:
                if not inside_atomic and (av[1] == C.MAXREPEAT or av[1] >= BIG_REPEAT):
                    self.check_repeat(av)
                self.walk(av[2], inside_atomic)
            elif op is C.POSSESSIVE_REPEAT:
                self.walk(av[2], True)  # possessive: no backtracking into it
            elif op is C.ATOMIC_GROUP:
                self.walk(av, True)
            elif op is C.SUBPATTERN:
                self.walk(av[3], inside_atomic)
            elif op is C.BRANCH:
                for alt in av[1]:
                    self.walk(alt, inside_atomic)
            elif op in (C.ASSERT, C.ASSERT_NOT):
                self.walk(av[1], inside_atomic)
            elif op is C.GROUPREF_EXISTS:
                self.walk(av[1], inside_atomic)
                if av[2] is not None:
                    self.walk(av[2], inside_atomic)

    def check_repeat(self, av) -> None:
        body = av[2]
        start, _ = self.seq_first(body)
        for _op, inner in self.tail_repeats(body):
            again = self.seq_first(inner[2])[0] & start
            if again:
                self.findings.append(Finding(
                    "nested-quantifier",
                    f"nested quantifier: a repeated group ends in a repeat that can also start the next "
                    f"iteration (both match {_show(again)}), so a failing match backtracks exponentially"))
                return
        for op, item in _top_branches(body):
            alts = [self.seq_first(alt)[0] for alt in item[1]]
            for i in range(len(alts)):
                for j in range(i + 1, len(alts)):
                    common = alts[i] & alts[j]
                    if common:
                        self.findings.append(Finding(
                            "overlapping-alternation",
                            f"overlapping alternation under a quantifier: branches {i + 1} and {j + 1} can "
                            f"both start with {_show(common)}, so a failing match backtracks exponentially"))
                        return


def _top_branches(seq):
    for op, av in seq:
        if op is C.BRANCH:
            yield op, av
        elif op is C.SUBPATTERN:
            yield from _top_branches(av[3])


def _show(chars: frozenset[int]) -> str:
    if chars == ALL:
        return "any character"
    sample = sorted(chars)[:4]
    text = " ".join(repr(chr(c)) for c in sample)
    return text + (f" (+{len(chars) - 4} more)" if len(chars) > 4 else "")


def backtracking_risks(python_source: bytes, *, caseless: bool = False) -> list[Finding]:
    """Findings for a pattern in Python ``re`` syntax (what shared.matching translates PCRE to)."""
    try:
        tree = P.parse(python_source, re.DOTALL | re.MULTILINE)
    except re.error:
        return []
    analyzer = _Analyzer(caseless or bool(tree.state.flags & re.IGNORECASE))
    analyzer.walk(tree)
    return analyzer.findings


def uppercase_literals(python_source: bytes) -> str:
    """Upper-case letters the pattern requires literally (outside (?i)), as a string; '' if none.

    After ``t:lowercase`` such a pattern can never match: ModSecurity lowercases the value before
    the operator sees it, a classic way for a new rule to silently never fire.
    """
    try:
        tree = P.parse(python_source, re.DOTALL | re.MULTILINE)
    except re.error:
        return ""
    if tree.state.flags & re.IGNORECASE:
        return ""
    found: list[str] = []

    def walk(seq, caseless: bool) -> None:  # noqa: ANN001
        for op, av in seq:
            if op is C.LITERAL and not caseless and 0x41 <= av <= 0x5A:
                found.append(chr(av))
            elif op is C.SUBPATTERN:
                walk(av[3], caseless or bool(av[1] & re.IGNORECASE))
            elif op is C.BRANCH:
                for alt in av[1]:
                    walk(alt, caseless)
            elif op in _REPEATS or op is C.POSSESSIVE_REPEAT:
                walk(av[2], caseless)
            elif op is C.ATOMIC_GROUP:
                walk(av, caseless)

    walk(tree, False)
    return "".join(dict.fromkeys(found))
