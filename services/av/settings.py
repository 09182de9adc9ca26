"""AV service settings (CLI flags and environment map onto this one dataclass)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from services.av.archives import ArchiveLimits
from services.av.pack import DEFAULT_PACK_DIR


@dataclass(frozen=True, slots=True)
class AvSettings:
    database_dir: Path  # clamd's DatabaseDirectory: compile copies the ClamAV signature files here
    pack_dirs: tuple[Path, ...] = (DEFAULT_PACK_DIR,)
    host: str = "127.0.0.1"
    port: int = 8090
    clamd_host: str = "127.0.0.1"
    clamd_port: int = 3310
    clamd_timeout: float = 30.0
    clamd_connect_timeout: float = 2.0
    memory_limit: int = 1 << 20          # bodies above this spill to a temporary file
    max_body: int = 100 * 1024 * 1024    # above this: 413 (keep <= clamd's StreamMaxLength)
    spool_dir: Path | None = None        # where spilled bodies go (default: the system temp dir)
    cache_size: int = 10_000
    archive_limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    observer: str = "av"
