"""Append-only disk spool for records the broker could not take.

Layout of the spool directory::

    00000000000000000001.seg   segment files, appended in order, rolled at ``segment_bytes``
    00000000000000000002.seg
    cursor                     "<segment seq> <byte offset>" of the first record not yet replayed

A record on disk is ``>II`` (payload length, CRC-32 of payload) then the payload, which is
``>i`` key length (-1 for no key), the key, and the value. The CRC lets a reader tell a torn write
(the process or the machine died mid-``write``) from data; a torn tail of the last segment is cut
off when the spool is opened, a damaged record in the middle of a segment ends that segment (what
follows cannot be framed) and is counted in ``corrupt``.

Durability (the fsync policy): each :meth:`DiskSpool.append` call writes its whole batch with one
``write`` and, when ``fsync`` is true (the default), one ``fsync`` — group commit, as Kafka's own
log does with ``flush.messages``. A process crash loses nothing that ``append`` returned for; a
power cut loses at most the batch being written. The cursor is replaced atomically (write, fsync,
rename) after every replayed batch the broker acknowledged; a crash between the broker's ack and
the cursor write replays that batch again, and the duplicates collapse on ``event.id``
downstream (at-least-once, like Kafka's own producer retries without idempotence).

Size is bounded by ``max_bytes`` (segment files on disk): a batch that would exceed it is refused
record by record and counted in ``overflow``; what is already spooled is never dropped to make
room, so the oldest evidence survives (and the rest of that batch is refused as well, so what
is kept is a prefix of what was offered).

A spool is owned by one thread (the producer's sender thread); it has no locks.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">II")
_KEYLEN = struct.Struct(">i")
_SUFFIX = ".seg"
_CURSOR = "cursor"

SpoolRecord = tuple[bytes | None, bytes]


class SpoolError(OSError):
    """The spool directory cannot be used (permissions, not a directory, unreadable cursor)."""


@dataclass(slots=True)
class _Segment:
    seq: int
    path: Path
    size: int


def _encode(key: bytes | None, value: bytes) -> bytes:
    klen = -1 if key is None else len(key)
    payload = _KEYLEN.pack(klen) + (key or b"") + value
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def _decode(payload: bytes) -> SpoolRecord:
    (klen,) = _KEYLEN.unpack_from(payload)
    if klen < 0:
        return None, payload[_KEYLEN.size:]
    start = _KEYLEN.size
    return payload[start:start + klen], payload[start + klen:]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DiskSpool:
    """Segmented append-only record log with a replay cursor; see the module docstring."""

    def __init__(self, directory: Path | str, *, segment_bytes: int = 4 << 20, max_bytes: int = 256 << 20,
                 fsync: bool = True) -> None:
        if segment_bytes <= _HEADER.size or max_bytes < segment_bytes:
            raise ValueError(f"need header size < segment_bytes ({segment_bytes}) <= max_bytes ({max_bytes})")
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.overflow = 0
        self.corrupt = 0
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolError(exc.errno, f"cannot create spool directory {self.directory}: {exc.strerror}") from exc
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise SpoolError(13, f"spool directory {self.directory} is not writable")
        self._segments: list[_Segment] = []
        self._cursor = (0, 0)  # (segment seq, byte offset) of the next record to replay
        self._pending = 0
        self._open()

    # -- state ------------------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Records appended and not yet committed as replayed."""
        return self._pending

    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self._segments)

    def __len__(self) -> int:
        return self._pending

    # -- writing ----------------------------------------------------------------------------------------
    def append(self, records: Iterable[SpoolRecord]) -> int:
        """Append records in order; returns how many were written (the rest overflowed)."""
        total = self.size_bytes
        chunks: list[bytes] = []
        chunk_bytes = 0
        written = 0
        full = False
        for key, value in records:
            frame = _encode(key, value)
            # Once full, refuse the rest of the batch too, even a smaller record that would fit:
            # what is kept stays a contiguous prefix, in order.
            if full or total + len(frame) > self.max_bytes:
                full = True
                self.overflow += 1
                continue
            seg = self._active()
            if chunks and seg.size + chunk_bytes + len(frame) > self.segment_bytes:
                self._write(seg, chunks, chunk_bytes)
                chunks, chunk_bytes = [], 0
                seg = self._roll()
            elif not chunks and seg.size > 0 and seg.size + len(frame) > self.segment_bytes:
                seg = self._roll()
            chunks.append(frame)
            chunk_bytes += len(frame)
            total += len(frame)
            written += 1
        if chunks:
            self._write(self._active(), chunks, chunk_bytes)
        self._pending += written
        return written

    def _write(self, seg: _Segment, chunks: list[bytes], size: int) -> None:
        with open(seg.path, "ab") as f:
            f.write(b"".join(chunks))
            f.flush()
            if self.fsync:
                os.fsync(f.fileno())
        seg.size += size

    def _active(self) -> _Segment:
        if not self._segments:
            return self._roll()
        return self._segments[-1]

    def _roll(self) -> _Segment:
        first = not self._segments
        seq = self._segments[-1].seq + 1 if self._segments else max(1, self._cursor[0])
        seg = _Segment(seq, self.directory / f"{seq:020d}{_SUFFIX}", 0)
        seg.path.touch()
        if self.fsync:
            _fsync_dir(self.directory)
        self._segments.append(seg)
        if first:
            self._cursor = (seq, 0)
        return seg

    # -- replay -----------------------------------------------------------------------------------------
    def peek(self, max_records: int) -> list[SpoolRecord]:
        """Up to ``max_records`` oldest records, without consuming them (see :meth:`commit`)."""
        out: list[SpoolRecord] = []
        seq, offset = self._cursor
        for seg in self._segments:
            if seg.seq < seq or len(out) >= max_records:
                continue
            start = offset if seg.seq == seq else 0
            records, _ = self._read_segment(seg, start, max_records - len(out))
            out.extend(r for r, _ in records)
        return out

    def commit(self, count: int) -> None:
        """Mark the first ``count`` records :meth:`peek` returned as delivered; persists the cursor."""
        if count <= 0:
            return
        if count > self._pending:
            raise ValueError(f"commit of {count} records but only {self._pending} are pending")
        seq, offset = self._cursor
        remaining = count
        for seg in self._segments:
            if seg.seq < seq:
                continue
            start = offset if seg.seq == seq else 0
            records, _ = self._read_segment(seg, start, remaining)
            remaining -= len(records)
            seq, offset = seg.seq, (records[-1][1] if records else start)
            if remaining == 0:
                break
        self._pending -= count - remaining
        last = self._segments[-1]
        # Step over segments the cursor has reached the end of; the last one stays while
        # records may still be appended to it, unless nothing is pending at all.
        for seg in self._segments:
            if seg.seq == seq and offset >= seg.size and (seg is not last or self._pending == 0):
                seq, offset = seg.seq + 1, 0
        self._cursor = (seq, offset)
        for seg in [s for s in self._segments if s.seq < seq]:
            seg.path.unlink(missing_ok=True)
        self._segments = [s for s in self._segments if s.seq >= seq]
        self._write_cursor()

    def _write_cursor(self) -> None:
        tmp = self.directory / (_CURSOR + ".tmp")
        with open(tmp, "w") as f:
            f.write(f"{self._cursor[0]} {self._cursor[1]}\n")
            f.flush()
            if self.fsync:
                os.fsync(f.fileno())
        os.replace(tmp, self.directory / _CURSOR)

    def _read_segment(self, seg: _Segment, start: int, limit: int) -> tuple[list[tuple[SpoolRecord, int]], int]:
        """Records from byte ``start`` with the offset just past each; stops at ``limit`` or damage."""
        out: list[tuple[SpoolRecord, int]] = []
        with open(seg.path, "rb") as f:
            f.seek(start)
            data = f.read(seg.size - start)
        pos = 0
        while len(out) < limit and pos + _HEADER.size <= len(data):
            length, crc = _HEADER.unpack_from(data, pos)
            body = data[pos + _HEADER.size:pos + _HEADER.size + length]
            if len(body) != length or zlib.crc32(body) != crc:
                break
            pos += _HEADER.size + length
            out.append((_decode(body), start + pos))
        return out, start + pos

    # -- recovery ---------------------------------------------------------------------------------------
    def _open(self) -> None:
        cursor_path = self.directory / _CURSOR
        if cursor_path.exists():
            try:
                seq_s, off_s = cursor_path.read_text().split()
                self._cursor = (int(seq_s), int(off_s))
            except ValueError as exc:
                raise SpoolError(22, f"spool cursor {cursor_path} is unreadable; move it aside to replay "
                                     f"the whole spool: {exc}") from exc
        segs: list[_Segment] = []
        for path in sorted(self.directory.glob("*" + _SUFFIX)):
            try:
                seq = int(path.stem)
            except ValueError:
                continue
            if seq < self._cursor[0]:
                path.unlink(missing_ok=True)  # fully replayed before a crash, not yet removed
                continue
            segs.append(_Segment(seq, path, path.stat().st_size))
        self._segments = segs
        if segs and self._cursor[0] < segs[0].seq:
            self._cursor = (segs[0].seq, 0)
        for i, seg in enumerate(segs):
            start = self._cursor[1] if seg.seq == self._cursor[0] else 0
            records, end = self._read_segment(seg, start, 1 << 62)
            self._pending += len(records)
            if end < seg.size:
                if i == len(segs) - 1:
                    log.warning("spool %s: cutting torn tail of %d bytes (crash during a write)",
                                seg.path, seg.size - end)
                    os.truncate(seg.path, end)
                    seg.size = end
                else:
                    self.corrupt += 1
                    log.error("spool %s: damaged record at byte %d; the rest of this segment (%d bytes) "
                              "cannot be framed and is skipped", seg.path, end, seg.size - end)
                    os.truncate(seg.path, end)
                    seg.size = end
        if self._pending:
            log.info("spool %s: %d records from a previous run waiting for replay", self.directory, self._pending)
