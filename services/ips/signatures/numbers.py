"""Integer comparisons shared by the size and header keywords (dsize, bsize, urilen, ttl, itype...).

Suricata 7 parses all of them with one helper (``detect-engine-uint.c``), so the forms are the
same everywhere: ``N`` (equal), ``<N``, ``>N``, ``<=N``, ``>=N``, ``!N`` and the *exclusive*
range ``N<>M`` (``dsize:10<>20`` matches 11..19), also written ``N-M``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FORMS = re.compile(
    r"""\s*(?:
        (?P<op><=|>=|<|>|!|=)?\s*(?P<n>\d+)
        (?:\s*(?:<>|-)\s*(?P<m>\d+))?
    )\s*$""",
    re.X,
)


class NumberError(ValueError):
    """Why a comparison did not parse; ``offset`` is relative to the parsed text."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True, slots=True)
class UintCmp:
    """``op`` is one of ``= != < > <= >= <>``; ``hi`` only for ``<>`` (exclusive bounds)."""

    op: str
    lo: int
    hi: int = 0

    def test(self, value: int) -> bool:
        op = self.op
        if op == "=":
            return value == self.lo
        if op == "<":
            return value < self.lo
        if op == ">":
            return value > self.lo
        if op == "<>":
            return self.lo < value < self.hi
        if op == "<=":
            return value <= self.lo
        if op == ">=":
            return value >= self.lo
        return value != self.lo

    def __str__(self) -> str:
        return f"{self.lo}<>{self.hi}" if self.op == "<>" else f"{'' if self.op == '=' else self.op}{self.lo}"


def parse_uint_cmp(text: str, maximum: int) -> UintCmp:
    m = _FORMS.match(text)
    if m is None:
        raise NumberError("expected a number, '<N', '>N', '<=N', '>=N', '!N' or 'N<>M'")
    op = m.group("op") or "="
    lo = int(m.group("n"))
    if lo > maximum:
        raise NumberError(f"expected a value at most {maximum}", m.start("n"))
    if m.group("m") is not None:
        if m.group("op"):
            raise NumberError("expected a range 'N<>M' without an operator")
        hi = int(m.group("m"))
        if hi > maximum:
            raise NumberError(f"expected a value at most {maximum}", m.start("m"))
        if hi <= lo + 1:
            raise NumberError("expected a range whose upper bound exceeds the lower by at least 2", m.start("m"))
        return UintCmp("<>", lo, hi)
    if op == "!":
        op = "!="
    if op == "<" and lo == 0:
        raise NumberError("'<0' can never match", m.start("n"))
    return UintCmp(op, lo)
