"""Value types shared by every matching backend: patterns, flags, matches, compile errors.

The flag values of the Hyperscan-backed flags are Hyperscan's own ``HS_FLAG_*`` numbers so the
hyperscan backend passes them through unchanged; ``LITERAL`` is ours (bit 16, unused by Hyperscan)
and is implemented by escaping the expression, which keeps literals and regexes in one database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# Hyperscan reports ``from == 0`` for every match unless HS_FLAG_SOM_LEFTMOST was given: the
# engine does not track where a match started (that is what makes it fast). We report -1 instead
# of a misleading 0 so that ``data[m.start:m.end]`` cannot silently return a wrong slice.
UNKNOWN_START = -1

MAX_PATTERN_ID = 2**32 - 1  # Hyperscan ids are C ``unsigned int``


class PatternFlag(enum.IntFlag):
    """Per-pattern compile flags (PCRE option semantics, as ModSecurity @rx and Suricata pcre use)."""

    CASELESS = 1  # HS_FLAG_CASELESS, PCRE /i (ASCII case folding: patterns match bytewise)
    DOTALL = 2  # HS_FLAG_DOTALL, PCRE /s
    MULTILINE = 4  # HS_FLAG_MULTILINE, PCRE /m
    SINGLEMATCH = 8  # HS_FLAG_SINGLEMATCH: report at most one match per scan or stream
    SOM_LEFTMOST = 256  # HS_FLAG_SOM_LEFTMOST: report the leftmost start of each match
    LITERAL = 1 << 16  # match the expression as a byte string, like hs_compile_lit


HYPERSCAN_FLAG_MASK = (
    PatternFlag.CASELESS
    | PatternFlag.DOTALL
    | PatternFlag.MULTILINE
    | PatternFlag.SINGLEMATCH
    | PatternFlag.SOM_LEFTMOST
)


@dataclass(frozen=True)
class Pattern:
    """One expression of a pattern set; ``id`` is what scans report (a rule id or an index)."""

    id: int
    expression: str | bytes
    flags: PatternFlag = PatternFlag(0)

    @property
    def expression_bytes(self) -> bytes:
        """The expression as the engines see it: ``str`` is encoded UTF-8 and matched bytewise."""
        if isinstance(self.expression, bytes):
            return self.expression
        return self.expression.encode("utf-8")


@dataclass(frozen=True, slots=True)
class Match:
    """One match: ``end`` is exclusive; ``start`` is UNKNOWN_START (-1) when it was not tracked.

    Patterns running on the Hyperscan path report a start only with SOM_LEFTMOST; patterns
    confirmed or run by Python ``re`` (prefilter+confirm and regex paths, python backend) always
    have a real start.
    """

    id: int
    start: int
    end: int


class PatternCompileError(ValueError):
    """A pattern that neither Hyperscan nor Python ``re`` can compile.

    Carries the pattern id (callers map it back to their rule file and line), the expression and
    each engine's own error text, so an operator sees why the rule was refused. When several
    patterns of one set fail, the first is raised and ``all_errors`` lists every failure.
    """

    def __init__(
        self,
        pattern_id: int,
        expression: str | bytes,
        reason: str,
        *,
        hyperscan_error: str | None = None,
        python_error: str | None = None,
    ) -> None:
        self.pattern_id = pattern_id
        self.expression = expression
        self.reason = reason
        self.hyperscan_error = hyperscan_error
        self.python_error = python_error
        self.all_errors: tuple[PatternCompileError, ...] = (self,)
        super().__init__(f"pattern {pattern_id} {expression!r}: {reason}")
