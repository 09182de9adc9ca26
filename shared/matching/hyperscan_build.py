"""Compiling a pattern set with Hyperscan and deciding, per pattern, which path runs it.

Hyperscan rejects some PCRE (back references, lookaround, atomic groups, possessive quantifiers,
``\\G``, very large bounded repeats, patterns that can match the empty buffer...). Instead of
dropping those rules (DESIGN.md "Matching core"), each rejected pattern is retried:

1. with HS_FLAG_ALLOWEMPTY if Hyperscan's only objection is that it matches the empty buffer;
2. with HS_FLAG_PREFILTER (an approximation that never misses a real match) - candidates are then
   confirmed by Python ``re``: path ``prefilter+confirm``. Prefilter cannot be combined with
   HS_FLAG_SOM_LEFTMOST, and only "did it possibly match" matters, so SINGLEMATCH is added;
3. Python ``re`` alone: path ``regex``.

The binding reports a multi-pattern compile error without the failing expression's index (only
hs_compile_lit_multi's message carries it), so failures are isolated by bisection: a set with k
bad patterns among n costs O(k log n) compiles rather than n.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass, replace

import hyperscan as hs

from shared.matching.model import HYPERSCAN_FLAG_MASK, Pattern, PatternCompileError, PatternFlag
from shared.matching.pcre import escape_for_hyperscan, literal_to_regex
from shared.matching.regex_path import python_error

PATH_HYPERSCAN = "hyperscan"
PATH_PREFILTER = "prefilter+confirm"
PATH_REGEX = "regex"
PATHS = (PATH_HYPERSCAN, PATH_PREFILTER, PATH_REGEX)

# Process-wide counters (Hyperscan compiles, cache hits/misses/rejected files): tests and
# /metrics read them; a cache hit must not move "hyperscan_compiles".
STATS: collections.Counter[str] = collections.Counter()


@dataclass(frozen=True, slots=True)
class HsEntry:
    """A pattern as handed to Hyperscan: escaped expression and effective HS_FLAG_* bits."""

    id: int
    expression: bytes
    flags: int


def engine_version() -> str:
    return f"hyperscan-python/{hs.__version__}"


def mode_bits(stream: bool, entries: Sequence[HsEntry]) -> int:
    if not stream:
        return hs.HS_MODE_BLOCK
    # SOM in stream mode needs a horizon: how far back a start offset may lie.
    if any(e.flags & hs.HS_FLAG_SOM_LEFTMOST for e in entries):
        return hs.HS_MODE_STREAM | hs.HS_MODE_SOM_HORIZON_LARGE
    return hs.HS_MODE_STREAM


def compile_db(entries: Sequence[HsEntry], mode: int) -> hs.Database:
    STATS["hyperscan_compiles"] += 1
    db = hs.Database(mode=mode)
    db.compile(
        expressions=[e.expression for e in entries],
        ids=[e.id for e in entries],
        flags=[e.flags for e in entries],
    )
    return db


def _error(entries: Sequence[HsEntry], mode: int) -> str | None:
    try:
        compile_db(entries, mode)
    except hs.error as exc:
        return str(exc) or type(exc).__name__
    return None


def _failures(entries: Sequence[HsEntry], mode: int) -> dict[int, str]:
    """Bisect a set down to the patterns Hyperscan rejects, with each one's error."""
    err = _error(entries, mode)
    if err is None:
        return {}
    if len(entries) == 1:
        return {entries[0].id: err}
    half = len(entries) // 2
    return _failures(entries[:half], mode) | _failures(entries[half:], mode)


def hs_expression(pattern: Pattern) -> bytes:
    raw = pattern.expression_bytes
    return literal_to_regex(raw) if pattern.flags & PatternFlag.LITERAL else escape_for_hyperscan(raw)


@dataclass(frozen=True)
class Classification:
    entries: tuple[HsEntry, ...]  # what goes into the Hyperscan databases
    paths: dict[int, str]


def _with_allowempty(entry: HsEntry, mode: int) -> tuple[HsEntry, str | None]:
    err = _error([entry], mode)
    if err is not None and "empty buffer" in err:
        entry = replace(entry, flags=entry.flags | hs.HS_FLAG_ALLOWEMPTY)
        err = _error([entry], mode)
    return entry, err


def classify(patterns: Sequence[Pattern], *, stream: bool) -> Classification:
    base = [HsEntry(p.id, hs_expression(p), int(p.flags & HYPERSCAN_FLAG_MASK)) for p in patterns]
    mode = mode_bits(stream, base)
    failures = _failures(base, mode) if base else {}
    by_id = {p.id: p for p in patterns}
    entries: list[HsEntry] = []
    paths: dict[int, str] = {}
    errors: list[PatternCompileError] = []
    for entry in base:
        if entry.id not in failures:
            entries.append(entry)
            paths[entry.id] = PATH_HYPERSCAN
            continue
        exact, hs_err = _with_allowempty(entry, mode)
        if hs_err is None:
            entries.append(exact)
            paths[entry.id] = PATH_HYPERSCAN
            continue
        pattern = by_id[entry.id]
        py_err = python_error(pattern)
        prefilter_flags = (entry.flags & ~hs.HS_FLAG_SOM_LEFTMOST) | hs.HS_FLAG_PREFILTER | hs.HS_FLAG_SINGLEMATCH
        prefilter, pf_err = _with_allowempty(replace(entry, flags=prefilter_flags), mode)
        if py_err is None:
            if pf_err is None:
                entries.append(prefilter)
                paths[entry.id] = PATH_PREFILTER
            else:
                paths[entry.id] = PATH_REGEX
            continue
        errors.append(
            PatternCompileError(
                entry.id,
                pattern.expression,
                f"hyperscan: {hs_err}; python re: {py_err}",
                hyperscan_error=hs_err,
                python_error=py_err,
            )
        )
    if errors:
        first = errors[0]
        first.all_errors = tuple(errors)
        raise first
    return Classification(tuple(entries), paths)


def single_match_entries(entries: Sequence[HsEntry]) -> list[HsEntry]:
    """The twin set behind ``matched_ids``: one callback per pattern at most, and no SOM cost."""
    return [
        replace(e, flags=(e.flags & ~hs.HS_FLAG_SOM_LEFTMOST) | hs.HS_FLAG_SINGLEMATCH) for e in entries
    ]
