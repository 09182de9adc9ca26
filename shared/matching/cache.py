"""On-disk cache of compiled Hyperscan databases, shared by the worker processes of one service.

DESIGN.md: WAF and IPS workers load one compiled ruleset instead of compiling it N times. A cache
file holds the serialized databases (``hs.dumpb``) and the per-pattern path decisions, so a cache
hit costs no compile at all, not even the per-pattern classification.

File layout: MAGIC, sha256(payload), payload = u32 meta length, JSON meta, database blobs.
``hs_deserialize_database`` checks Hyperscan's own header (version, platform) but we also check a
digest: a truncated or bit-flipped file must be rebuilt, never handed to the C library. Writes go
to a temporary file in the same directory and are renamed into place, so a concurrent reader sees
either the old complete file or the new complete file.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.matching.model import Pattern

MAGIC = b"SECCHAIN-HSDB\x001\n"
FORMAT_VERSION = 1  # bump when classification or translation rules change


@dataclass(frozen=True)
class CachedBuild:
    meta: dict[str, Any]
    blobs: dict[str, bytes]


def cache_key(patterns: Sequence[Pattern], *, engine_version: str, mode: str) -> str:
    """sha256 over everything that determines the compiled result."""
    h = hashlib.sha256()
    h.update(f"secchain-matching/{FORMAT_VERSION}/{engine_version}/{mode}\n".encode())
    for p in patterns:
        expr = p.expression_bytes
        h.update(b"%d:%d:%d:" % (p.id, int(p.flags), len(expr)))
        h.update(expr)
    return h.hexdigest()


def cache_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"{key}.hsdb"


def load(path: Path) -> CachedBuild | None:
    """The cached build, or None if absent or damaged in any way (the caller rebuilds)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    head = len(MAGIC) + 32
    if len(raw) < head + 4 or not raw.startswith(MAGIC):
        return None
    payload = raw[head:]
    if hashlib.sha256(payload).digest() != raw[len(MAGIC) : head]:
        return None
    try:
        (meta_len,) = struct.unpack_from("<I", payload)
        meta = json.loads(payload[4 : 4 + meta_len])
        blobs: dict[str, bytes] = {}
        pos = 4 + meta_len
        for name, length in meta["blobs"]:
            blobs[name] = payload[pos : pos + length]
            pos += length
    except (ValueError, KeyError, TypeError, struct.error):
        return None
    return CachedBuild(meta, blobs)


def store(path: Path, meta: dict[str, Any], blobs: dict[str, bytes]) -> None:
    """Atomically write a build (tmp file + fsync + rename in the same directory)."""
    meta = dict(meta, blobs=[[name, len(blob)] for name, blob in blobs.items()])
    meta_bytes = json.dumps(meta, sort_keys=True).encode()
    payload = struct.pack("<I", len(meta_bytes)) + meta_bytes + b"".join(blobs.values())
    data = MAGIC + hashlib.sha256(payload).digest() + payload
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
