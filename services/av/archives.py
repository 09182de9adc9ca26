"""Walk zip, gzip and tar members for YARA, within limits.

clamd unpacks archives itself (bounded by MaxRecursion/MaxFiles/MaxScanSize); YARA does not, so the
service extracts members itself. Every read is bounded: a member is read at most up to the remaining
expansion budget plus one byte, so a zip bomb is noticed after ``max_total_bytes`` and never
decompressed further. Breaking a limit raises :class:`ArchiveLimitExceeded`, which the scanner turns
into the ``Secchain.Heuristic.ArchiveBomb`` verdict: an upload that cannot be inspected is not clean.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

# Ratio checks apply once a member has expanded past this: small text files legitimately compress
# far beyond any sane ratio limit (a 10 kB file of spaces), a multi-megabyte one does not.
_RATIO_MIN_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    max_depth: int = 3
    max_members: int = 1000
    max_total_bytes: int = 100 * 1024 * 1024
    max_ratio: float = 100.0


class ArchiveLimitExceeded(Exception):
    """An archive broke one of :class:`ArchiveLimits`; the message says which and where."""


def archive_kind(head: bytes) -> str | None:
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


class _Budget:
    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.members = 0
        self.expanded = 0

    def count_member(self, where: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise ArchiveLimitExceeded(f"more than {self.limits.max_members} archive members (at {where})")

    def read(self, stream: BinaryIO, where: str, compressed_size: int | None) -> bytes:
        """Read one member, charging the expansion budget, checking the ratio as bytes arrive."""
        room = self.limits.max_total_bytes - self.expanded
        out = bytearray()
        while True:
            try:
                chunk = stream.read(min(1 << 20, room + 1 - len(out)))
            except (zlib.error, EOFError, OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
                # Corrupt members are left to clamd (which reports broken archives its own way).
                raise _Corrupt(f"{where}: {exc}") from exc
            if not chunk:
                break
            out += chunk
            if len(out) > room:
                raise ArchiveLimitExceeded(
                    f"archive expands beyond {self.limits.max_total_bytes} bytes (at {where})")
            if compressed_size and len(out) >= _RATIO_MIN_BYTES and len(out) / max(compressed_size, 1) > self.limits.max_ratio:
                raise ArchiveLimitExceeded(
                    f"compression ratio above {self.limits.max_ratio:g} at {where} "
                    f"({len(out)} bytes from {compressed_size})")
            if len(out) == room + 1:
                break
        self.expanded += len(out)
        return bytes(out)


class _Corrupt(Exception):
    pass


def iter_members(data: bytes | BinaryIO, limits: ArchiveLimits, *, size: int | None = None,
                 name: str = "") -> Iterator[tuple[str, bytes]]:
    """Yield ``(member path, content)`` for every regular member, recursively, depth-first.

    ``data`` is the outer file (bytes or a seekable binary file). Nested archives are yielded too
    (YARA sees the container as well as its content). Corrupt archives end the walk silently.
    """
    budget = _Budget(limits)
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    outer_size = size if size is not None else (len(data) if isinstance(data, (bytes, bytearray)) else None)
    try:
        yield from _walk(stream, outer_size, name, 1, budget)
    except _Corrupt:
        return


def _walk(stream: BinaryIO, size: int | None, path: str, depth: int, budget: _Budget) -> Iterator[tuple[str, bytes]]:
    stream.seek(0)
    kind = archive_kind(stream.read(512))
    stream.seek(0)
    if kind is None:
        return
    if depth > budget.limits.max_depth:
        raise ArchiveLimitExceeded(f"archives nested deeper than {budget.limits.max_depth} (at {path or '/'})")
    for member, content in _members(kind, stream, size, path, budget):
        yield member, content
        if archive_kind(content[:512]) is not None:
            yield from _walk(io.BytesIO(content), len(content), member, depth + 1, budget)


def _members(kind: str, stream: BinaryIO, size: int | None, path: str,
             budget: _Budget) -> Iterator[tuple[str, bytes]]:
    prefix = f"{path}!" if path else ""
    if kind == "zip":
        try:
            archive = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise _Corrupt(f"{path}: {exc}") from exc
        with archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                where = prefix + info.filename
                budget.count_member(where)
                try:
                    member = archive.open(info)
                except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
                    raise _Corrupt(f"{where}: {exc}") from exc
                with member:
                    yield where, budget.read(member, where, info.compress_size)
    elif kind == "gzip":
        where = prefix + "gzip-content"
        budget.count_member(where)
        with gzip.GzipFile(fileobj=stream) as member:
            yield where, budget.read(member, where, size)  # type: ignore[arg-type]
    elif kind == "tar":
        try:
            archive = tarfile.open(fileobj=stream, mode="r:")
        except tarfile.TarError as exc:
            raise _Corrupt(f"{path}: {exc}") from exc
        with archive:
            while True:
                try:
                    info = archive.next()
                except tarfile.TarError as exc:
                    raise _Corrupt(f"{path}: {exc}") from exc
                if info is None:
                    break
                if not info.isreg():
                    continue
                where = prefix + info.name
                budget.count_member(where)
                extracted = archive.extractfile(info)
                if extracted is None:
                    continue
                with extracted:
                    yield where, budget.read(extracted, where, None)
