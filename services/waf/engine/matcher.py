"""The engine's one door to the Hyperscan matching core (``shared.matching``).

@rx and @pm never call Hyperscan or ``re`` directly: they ask this module for a compiled matcher
once, at rule load, and only scan afterwards. Keeping the door narrow means the core can change
(database grouping, on-disk cache, prefilter+confirm for patterns Hyperscan cannot take) without
touching operators.

Patterns that neither Hyperscan nor Python's ``re`` accept (CRS 920xxx uses variable-width
look-behind, which PCRE supports) run on the ``regex`` module, which implements it; such rules are
counted under the path ``regex-module`` in the load report.

ModSecurity v3 compiles every @rx with ``PCRE_DOTALL | PCRE_MULTILINE`` (``src/utils/regex.cc``)
and matches bytes; we pass the same flags. @pm is an Aho-Corasick case-insensitive phrase match in
ModSecurity; in Hyperscan that is a set of ``LITERAL | CASELESS`` patterns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from shared.matching import Pattern, PatternCompileError, PatternFlag, compile_patterns
from shared.matching.pcre import PcreTranslationError, to_python
from shared.matching.regex_path import compile_python

try:  # the `regex` module runs PCRE constructs `re` lacks (variable-width look-behind)
    import regex as _regex_module
except ImportError:  # pragma: no cover - pinned in the project's environment
    _regex_module = None

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


class RegexModuleDatabase:
    """One pattern on the ``regex`` module, with the same scanning interface as a database."""

    def __init__(self, compiled: Any) -> None:
        self.compiled = compiled

    def matched_ids(self, data: bytes) -> set[int]:
        return {0} if self.compiled.search(data) is not None else set()

    def scan_many(self, buffers: list[bytes]) -> list[set[int]]:
        search: Callable[[bytes], object] = self.compiled.search
        return [{0} if search(b) is not None else set() for b in buffers]

    def path_of(self, pattern_id: int) -> str:
        return "regex-module"


def compile_regex_module(pattern: str) -> Any:
    """Compile with the ``regex`` module and @rx flags; raises PatternCompileError-like ValueError."""
    if _regex_module is None:
        raise ValueError("the regex module is not installed")
    try:
        source = to_python(pattern.encode("latin-1"))
        return _regex_module.compile(source, _regex_module.DOTALL | _regex_module.MULTILINE | _regex_module.V0)
    except (PcreTranslationError, _regex_module.error, OverflowError, RecursionError) as exc:
        raise ValueError(f"regex module: {exc}") from exc


_RE_CACHE: dict[str, Any] = {}
_RE_CACHE_LIMIT = 4096


def python_regex(pattern: str) -> Any:
    """A cached bytes regex with @rx flags (PCRE syntax translated by the matching core).

    Used for capture groups and for macro-expanded patterns known only at run time; the cache is
    bounded so that attacker-influenced macro values cannot grow it without limit.
    """
    compiled = _RE_CACHE.get(pattern)
    if compiled is None:
        try:
            compiled = compile_python(Pattern(0, pattern.encode("latin-1"), RX_FLAGS))
        except (PcreTranslationError, re.error, OverflowError, RecursionError):
            compiled = compile_regex_module(pattern)
        if len(_RE_CACHE) >= _RE_CACHE_LIMIT:
            _RE_CACHE.clear()
        _RE_CACHE[pattern] = compiled
    return compiled


def regex_groups(regex: Any, value: str) -> list[str] | None:
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
        db: _Database
        try:
            db = compile_patterns([Pattern(0, pattern.encode("latin-1"), flags)], cache_dir=self.cache_dir)
        except PatternCompileError as exc:
            try:
                db = RegexModuleDatabase(compile_regex_module(pattern))
            except ValueError:
                raise exc from None
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
