"""The engine's one door to the Hyperscan matching core (``shared.matching``).

@rx and @pm never call Hyperscan or ``re`` directly: they ask this module for a compiled matcher
once, at rule load, and only scan afterwards. Keeping the door narrow means the core can change
(database grouping, on-disk cache, prefilter+confirm for patterns Hyperscan cannot take) without
touching operators.

ModSecurity v3 compiles every @rx with ``PCRE_DOTALL | PCRE_MULTILINE`` (``src/utils/regex.cc``)
and matches bytes; we pass the same flags. @pm is an Aho-Corasick case-insensitive phrase match in
ModSecurity; in Hyperscan that is a set of ``LITERAL | CASELESS`` patterns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shared.matching import Pattern, PatternCompileError, PatternFlag, compile_patterns
from shared.matching.regex_path import compile_python

__all__ = ["LiteralSetMatcher", "MatcherFactory", "PatternCompileError", "RegexMatcher"]


class _Database(Protocol):
    def matched_ids(self, data: bytes) -> set[int]: ...

    def scan_many(self, buffers: list[bytes]) -> list[set[int]]: ...

    def path_of(self, pattern_id: int) -> str: ...


RX_FLAGS = PatternFlag.DOTALL | PatternFlag.MULTILINE


@dataclass(frozen=True, slots=True)
class RegexMatcher:
    """One @rx pattern: a Hyperscan (or fallback) database for the yes/no question, and a Python
    ``re`` object, compiled lazily only for rules that ``capture`` (Hyperscan reports no groups)."""

    pattern: str  # latin-1 "byte string"
    database: _Database
    path: str

    def search(self, data: bytes) -> bool:
        return bool(self.database.matched_ids(data))

    def search_many(self, buffers: list[bytes]) -> list[bool]:
        return [bool(ids) for ids in self.database.scan_many(buffers)]

    def groups(self, value: str) -> list[str] | None:
        """Capture groups 0..9 of the first match, or None; used only when the rule captures."""
        return regex_groups(python_regex(self.pattern), value)


@dataclass(frozen=True, slots=True)
class LiteralSetMatcher:
    """An @pm phrase list compiled as caseless literals; ``first`` names the phrase that matched."""

    phrases: tuple[str, ...]
    database: _Database

    def first(self, data: bytes) -> str | None:
        ids = self.database.matched_ids(data)
        if not ids:
            return None
        return self.phrases[min(ids)]

    def first_many(self, buffers: list[bytes]) -> list[str | None]:
        phrases = self.phrases
        return [phrases[min(ids)] if ids else None for ids in self.database.scan_many(buffers)]


_RE_CACHE: dict[str, re.Pattern[bytes]] = {}
_RE_CACHE_LIMIT = 4096


def python_regex(pattern: str) -> re.Pattern[bytes]:
    """A cached bytes regex with @rx flags (PCRE syntax translated by the matching core).

    Used for capture groups and for macro-expanded patterns known only at run time; the cache is
    bounded so that attacker-influenced macro values cannot grow it without limit.
    """
    compiled = _RE_CACHE.get(pattern)
    if compiled is None:
        compiled = compile_python(Pattern(0, pattern.encode("latin-1"), RX_FLAGS))
        if len(_RE_CACHE) >= _RE_CACHE_LIMIT:
            _RE_CACHE.clear()
        _RE_CACHE[pattern] = compiled
    return compiled


def regex_groups(regex: re.Pattern[bytes], value: str) -> list[str] | None:
    """TX:0..TX:9 for the first match of ``regex`` in ``value``, or None."""
    match = regex.search(value.encode("latin-1"))
    if match is None:
        return None
    groups = [match.group(0), *(g if g is not None else b"" for g in match.groups()[:9])]
    return [g.decode("latin-1") for g in groups]


class MatcherFactory:
    """Builds matchers for one rule set load, sharing the database cache directory."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self.paths: dict[str, int] = {}

    def regex(self, pattern: str) -> RegexMatcher:
        """Compile an @rx pattern; raises PatternCompileError with the engine's reason."""
        flags = RX_FLAGS | PatternFlag.SINGLEMATCH
        db = compile_patterns(
            [Pattern(0, pattern.encode("latin-1"), flags)], cache_dir=self.cache_dir
        )
        path = db.path_of(0)
        self.paths[path] = self.paths.get(path, 0) + 1
        return RegexMatcher(pattern=pattern, database=db, path=path)

    def literals(self, phrases: tuple[str, ...]) -> LiteralSetMatcher:
        flags = PatternFlag.LITERAL | PatternFlag.CASELESS | PatternFlag.SINGLEMATCH
        db = compile_patterns(
            [Pattern(i, p.encode("latin-1"), flags) for i, p in enumerate(phrases)],
            cache_dir=self.cache_dir,
        )
        return LiteralSetMatcher(phrases=phrases, database=db)
