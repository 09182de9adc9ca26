"""Assemble a Hyperscan-backed MatchDatabase, from the on-disk cache when possible."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hyperscan as hs

from shared.matching import cache as db_cache
from shared.matching.database import MatchDatabase
from shared.matching.hyperscan_build import (
    PATH_HYPERSCAN,
    PATHS,
    STATS,
    classify,
    compile_db,
    engine_version,
    mode_bits,
    single_match_entries,
)
from shared.matching.model import Pattern
from shared.matching.regex_path import RegexProgram, program_for

log = logging.getLogger(__name__)


def _programs(patterns: Sequence[Pattern], paths: dict[int, str]) -> dict[int, RegexProgram]:
    return {p.id: program_for(p) for p in patterns if paths[p.id] != PATH_HYPERSCAN}


def _from_cache(patterns: Sequence[Pattern], mode: str, cached: db_cache.CachedBuild) -> MatchDatabase | None:
    meta = cached.meta
    try:
        paths = {int(k): v for k, v in meta["paths"].items()}
        if set(paths) != {p.id for p in patterns} or not set(paths.values()) <= set(PATHS):
            return None
        dbs: dict[str, hs.Database] = {}
        for name, blob in cached.blobs.items():
            dbs[name] = hs.loadb(blob, int(meta["modes"][name]))
        if meta.get("single_is_block") and "block" in dbs:
            dbs["single"] = dbs["block"]
    except (KeyError, ValueError, TypeError, AttributeError, hs.error):
        return None
    return MatchDatabase(
        backend="hyperscan",
        mode=mode,
        patterns=patterns,
        paths=paths,
        programs=_programs(patterns, paths),
        block_db=dbs.get("block"),
        single_db=dbs.get("single"),
        stream_db=dbs.get("stream"),
        streams="stream" in mode,
        from_cache=True,
    )


def build_hyperscan_database(patterns: Sequence[Pattern], *, mode: str, cache_dir: Path | None) -> MatchDatabase:
    path: Path | None = None
    if cache_dir is not None:
        key = db_cache.cache_key(patterns, engine_version=engine_version(), mode=mode)
        path = db_cache.cache_path(cache_dir, key)
        if path.exists():
            cached = db_cache.load(path)
            database = _from_cache(patterns, mode, cached) if cached is not None else None
            if database is not None:
                STATS["cache_hits"] += 1
                return database
            STATS["cache_rejected"] += 1
            log.warning("ignoring damaged or incompatible matcher cache file %s; rebuilding", path)
        else:
            STATS["cache_misses"] += 1

    classification = classify(patterns, stream="stream" in mode)
    entries = classification.entries
    dbs: dict[str, hs.Database] = {}
    modes: dict[str, int] = {}
    single_is_block = False
    if entries:
        if "block" in mode:
            modes["block"] = modes["single"] = hs.HS_MODE_BLOCK
            dbs["block"] = compile_db(entries, hs.HS_MODE_BLOCK)
            single = single_match_entries(entries)
            single_is_block = single == list(entries)
            dbs["single"] = dbs["block"] if single_is_block else compile_db(single, hs.HS_MODE_BLOCK)
        if "stream" in mode:
            modes["stream"] = mode_bits(True, entries)
            dbs["stream"] = compile_db(entries, modes["stream"])
    database = MatchDatabase(
        backend="hyperscan",
        mode=mode,
        patterns=patterns,
        paths=classification.paths,
        programs=_programs(patterns, classification.paths),
        block_db=dbs.get("block"),
        single_db=dbs.get("single"),
        stream_db=dbs.get("stream"),
        streams="stream" in mode,
    )
    if path is not None:
        blobs = {name: hs.dumpb(db) for name, db in dbs.items() if not (name == "single" and single_is_block)}
        meta: dict[str, Any] = {
            "paths": {str(k): v for k, v in classification.paths.items()},
            "modes": modes,
            "single_is_block": single_is_block,
        }
        try:
            db_cache.store(path, meta, blobs)
        except OSError as exc:
            log.warning("cannot write matcher cache file %s: %s", path, exc)
    return database
