"""Python ``re`` side of matching: the confirm step of prefiltered patterns and the regex-only path.

Hyperscan's HS_FLAG_PREFILTER compiles an approximation that may report false positives but never
misses a real match (Hyperscan developer reference, "Prefiltering Mode"), which is how Suricata
uses it too (util-mpm-hs.c narrows candidate rules, full inspection confirms). Candidates are
confirmed here over the whole buffer, so their Match offsets are the regex's own: leftmost,
non-overlapping matches as ``re.finditer`` yields them, not Hyperscan's "every end offset".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.matching.model import Match, Pattern, PatternFlag
from shared.matching.pcre import PcreTranslationError, literal_to_regex, to_python


def python_source(pattern: Pattern) -> bytes:
    """The Python ``re`` pattern text for a PCRE expression (or a literal)."""
    raw = pattern.expression_bytes
    if pattern.flags & PatternFlag.LITERAL:
        return literal_to_regex(raw)
    return to_python(raw)


def compile_python(pattern: Pattern) -> re.Pattern[bytes]:
    """Compile with PCRE option semantics; raises PcreTranslationError or re.error."""
    flags = 0
    if pattern.flags & PatternFlag.CASELESS:
        flags |= re.IGNORECASE  # bytes patterns fold ASCII only, like PCRE in the C locale
    if pattern.flags & PatternFlag.DOTALL:
        flags |= re.DOTALL
    if pattern.flags & PatternFlag.MULTILINE:
        flags |= re.MULTILINE
    return re.compile(python_source(pattern), flags)


def python_error(pattern: Pattern) -> str | None:
    """Why Python cannot run the pattern, or None if it can."""
    try:
        compile_python(pattern)
    except (PcreTranslationError, re.error, OverflowError, RecursionError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass(frozen=True, slots=True)
class RegexProgram:
    """One pattern as Python runs it; immutable so every thread shares it."""

    id: int
    regex: re.Pattern[bytes]
    single: bool
    # A literal cannot grow with more data, so a stream may report it even when it ends exactly at
    # the end of what has arrived (a regex such as ``ab+`` there must wait for the next bytes).
    fixed: bool = False

    def matches(self, data: bytes, base: int = 0) -> list[Match]:
        """Matches in ``data``, offsets shifted by ``base`` (the stream offset of data[0])."""
        if self.single:
            m = self.regex.search(data)
            return [] if m is None else [Match(self.id, base + m.start(), base + m.end())]
        return [Match(self.id, base + m.start(), base + m.end()) for m in self.regex.finditer(data)]


def program_for(pattern: Pattern) -> RegexProgram:
    return RegexProgram(
        pattern.id,
        compile_python(pattern),
        bool(pattern.flags & PatternFlag.SINGLEMATCH),
        bool(pattern.flags & PatternFlag.LITERAL),
    )
