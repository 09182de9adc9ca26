"""``compile_patterns``: validate a pattern set, pick a backend, build or load the databases."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

from shared.matching.database import MatchDatabase
from shared.matching.model import MAX_PATTERN_ID, Pattern, PatternCompileError, PatternFlag
from shared.matching.regex_path import RegexProgram, compile_python, program_for, python_error

BACKENDS = ("auto", "hyperscan", "python")
MODES = ("block", "stream", "block+stream")


def hyperscan_available() -> bool:
    return importlib.util.find_spec("hyperscan") is not None


def _validate(patterns: Sequence[Pattern], backend: str, mode: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown matching backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if mode not in MODES:
        raise ValueError(f"unknown scan mode {mode!r}; expected one of {', '.join(MODES)}")
    seen: set[int] = set()
    known = PatternFlag(0)
    for flag in PatternFlag:
        known |= flag
    for p in patterns:
        if not isinstance(p, Pattern):
            raise TypeError(f"expected Pattern, got {type(p).__name__}")
        if not isinstance(p.id, int) or not 0 <= p.id <= MAX_PATTERN_ID:
            raise ValueError(f"pattern id {p.id!r} is not an integer in 0..{MAX_PATTERN_ID}")
        if p.id in seen:
            raise ValueError(f"duplicate pattern id {p.id}: ids must be unique within one set")
        if not isinstance(p.expression, (str, bytes)):
            raise TypeError(f"pattern {p.id}: expression must be str or bytes, got {type(p.expression).__name__}")
        if int(p.flags) & ~int(known):
            raise ValueError(f"pattern {p.id}: unknown flag bits {int(p.flags) & ~int(known):#x}")
        seen.add(p.id)


def _python_database(patterns: Sequence[Pattern], mode: str) -> MatchDatabase:
    errors: list[PatternCompileError] = []
    programs: dict[int, RegexProgram] = {}
    for p in patterns:
        err = python_error(p)
        if err is not None:
            errors.append(PatternCompileError(p.id, p.expression, f"python re: {err}", python_error=err))
            continue
        programs[p.id] = program_for(p)
    if errors:
        errors[0].all_errors = tuple(errors)
        raise errors[0]
    return MatchDatabase(
        backend="python",
        mode=mode,
        patterns=patterns,
        paths={p.id: "regex" for p in patterns},
        programs=programs,
        streams="stream" in mode,
    )


BACKEND_ENV = "SECCHAIN_MATCHING_BACKEND"


def default_backend() -> str:
    """What ``backend="auto"`` means in this process: ``$SECCHAIN_MATCHING_BACKEND`` if set
    (``hyperscan`` or ``python``; services set it from ``--matching-backend``, so comparison runs
    need no code change), else Hyperscan when importable."""
    chosen = os.environ.get(BACKEND_ENV, "auto")
    if chosen not in ("auto", "hyperscan", "python"):
        raise ValueError(f"${BACKEND_ENV}={chosen!r}: expected auto, hyperscan or python")
    if chosen == "auto":
        return "hyperscan" if hyperscan_available() else "python"
    return chosen


def compile_patterns(
    patterns: Sequence[Pattern],
    *,
    backend: str = "auto",
    mode: str = "block",
    cache_dir: Path | None = None,
) -> MatchDatabase:
    """Compile a pattern set once; the result is immutable and shared by every thread.

    backend: "auto" (Hyperscan if importable, else the pure-Python reference), "hyperscan",
    "python". mode: "block", "stream" or "block+stream" (both databases; each supports the
    block API, a stream-only database answers block scans through a one-shot stream).
    cache_dir: where serialized Hyperscan databases are shared between processes.
    Raises PatternCompileError (first failure; ``.all_errors`` has every one) or ValueError.
    """
    patterns = list(patterns)
    _validate(patterns, backend, mode)
    if backend == "auto":
        backend = default_backend()
    if backend == "python":
        return _python_database(patterns, mode)
    from shared.matching.hyperscan_db import build_hyperscan_database

    return build_hyperscan_database(patterns, mode=mode, cache_dir=Path(cache_dir) if cache_dir else None)


__all__ = ["compile_patterns", "hyperscan_available"]
