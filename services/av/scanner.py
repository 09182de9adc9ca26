"""One scan = clamd INSTREAM and YARA (file + archive members) side by side, then one verdict.

clamd runs over TCP while YARA runs on a worker thread (yara-python releases the GIL while
matching), so a file costs max(clamd, YARA) rather than the sum. Each scan reads the compiled packs
once at its start, so a reload in the middle of a scan never mixes two pack versions in one result.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yara

from services.av.archives import ArchiveLimitExceeded, ArchiveLimits, iter_members
from services.av.cache import VerdictCache
from services.av.clamd_client import ClamdClient, ClamdError
from services.av.models import ARCHIVE_BOMB, ScanResult, Signature
from services.av.pack import YARA_PREFIX, CompiledPacks

READ_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class Payload:
    """An upload already received: in memory (``data``) or spilled to ``path``."""

    sha256: str
    size: int
    data: bytes | None = None
    path: Path | None = None

    def chunks(self) -> Iterator[bytes]:
        if self.data is not None:
            yield self.data
            return
        assert self.path is not None
        with open(self.path, "rb") as fh:
            while chunk := fh.read(READ_CHUNK):
                yield chunk


class PackHolder:
    """The current :class:`CompiledPacks`; swapped by one assignment on reload."""

    def __init__(self, packs: CompiledPacks) -> None:
        self.current = packs

    def swap(self, packs: CompiledPacks) -> CompiledPacks:
        old, self.current = self.current, packs
        return old


def yara_scan(packs: CompiledPacks, payload: Payload, limits: ArchiveLimits) -> tuple[list[Signature], list[str]]:
    """Runs on a worker thread: YARA on the file, then on every archive member within ``limits``."""
    found: list[Signature] = []
    notes: list[str] = []
    seen: set[tuple[str, str | None]] = set()

    def add(matches: list[yara.Match], member: str | None) -> None:
        for m in matches:
            key = (m.rule, member)
            if key not in seen:
                seen.add(key)
                found.append(Signature(YARA_PREFIX + m.rule, "yara", packs.pack_of_yara_namespace(m.namespace), member))

    if payload.data is not None:
        add(packs.rules.match(data=payload.data), None)
        source = payload.data
        walk = iter_members(source, limits, size=payload.size)
        _walk(packs, walk, add, found, notes)
    else:
        assert payload.path is not None
        add(packs.rules.match(str(payload.path)), None)
        with open(payload.path, "rb") as fh:
            _walk(packs, iter_members(fh, limits, size=payload.size), add, found, notes)
    return found, notes


def _walk(packs: CompiledPacks, walk: Iterator[tuple[str, bytes]], add, found: list[Signature],  # type: ignore[no-untyped-def]
          notes: list[str]) -> None:
    try:
        for member, content in walk:
            add(packs.rules.match(data=content), member)
    except ArchiveLimitExceeded as exc:
        found.append(Signature(ARCHIVE_BOMB, "heuristic", packs.label))
        notes.append(str(exc))


class Scanner:
    def __init__(self, clamd: ClamdClient, packs: PackHolder, cache: VerdictCache,
                 archive_limits: ArchiveLimits = ArchiveLimits()) -> None:
        self.clamd = clamd
        self.packs = packs
        self.cache = cache
        self.archive_limits = archive_limits

    async def scan(self, payload: Payload) -> ScanResult:
        started = time.perf_counter()
        packs = self.packs.current
        # Keyed on the label and the source digest: an edited pack without a version bump is new too.
        cache_key = f"{packs.label}#{packs.digest}"
        cached = self.cache.get(payload.sha256, cache_key)
        if cached is not None:
            return cached.as_cached((time.perf_counter() - started) * 1000)
        clamd_task = asyncio.ensure_future(self.clamd.instream(payload.chunks()))
        try:
            yara_found, notes = await asyncio.to_thread(yara_scan, packs, payload, self.archive_limits)
        except yara.Error as exc:
            # e.g. a YARA scan timeout or too many matches: a verdict of its own, not a 500.
            clamd_task.cancel()
            return ScanResult("error", payload.sha256, payload.size, (time.perf_counter() - started) * 1000,
                              ruleset=packs.label, reason=f"YARA scan failed: {exc}")
        except BaseException:
            clamd_task.cancel()
            raise
        try:
            clamd_names = await clamd_task
        except ClamdError as exc:
            # Without clamd's half the file is not fully inspected: say so, even if YARA matched.
            return ScanResult("error", payload.sha256, payload.size, (time.perf_counter() - started) * 1000,
                              tuple(yara_found), ruleset=packs.label, reason=str(exc), notes=tuple(notes))
        signatures = [Signature(n, "clamav", packs.pack_of_clamav(n)) for n in clamd_names] + yara_found
        result = ScanResult("infected" if signatures else "clean", payload.sha256, payload.size,
                            (time.perf_counter() - started) * 1000, tuple(signatures), ruleset=packs.label,
                            notes=tuple(notes))
        self.cache.put(cache_key, result)
        return result
