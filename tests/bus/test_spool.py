"""DiskSpool: order, commit cursor across reopen, torn writes, size bound, segment clean-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.bus.spool import DiskSpool, SpoolError


def records(start: int, stop: int) -> list[tuple[bytes | None, bytes]]:
    return [(None if i % 7 == 0 else f"k{i % 3}".encode(), f"value-{i}".encode() * 3) for i in range(start, stop)]


def test_records_come_back_in_order_across_segments_and_reopen(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, segment_bytes=256, max_bytes=1 << 20)
    assert spool.append(records(0, 50)) == 50
    assert len(list(tmp_path.glob("*.seg"))) > 3  # rolled
    assert spool.peek(1000) == records(0, 50)
    spool.commit(20)
    assert spool.peek(5) == records(20, 25)
    reopened = DiskSpool(tmp_path, segment_bytes=256, max_bytes=1 << 20)
    assert reopened.pending == 30
    assert reopened.peek(1000) == records(20, 50)
    reopened.append(records(50, 60))
    assert reopened.peek(1000) == records(20, 60)


def test_fully_replayed_segments_are_deleted_and_numbering_moves_on(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, segment_bytes=256, max_bytes=1 << 20)
    spool.append(records(0, 30))
    before = sorted(p.name for p in tmp_path.glob("*.seg"))
    spool.commit(30)
    assert spool.pending == 0 and not list(tmp_path.glob("*.seg"))
    spool.append(records(30, 31))
    after = sorted(p.name for p in tmp_path.glob("*.seg"))
    assert after[0] > before[-1]
    assert DiskSpool(tmp_path).peek(10) == records(30, 31)


def test_torn_tail_from_a_crash_is_cut_and_the_rest_kept(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    spool.append(records(0, 10))
    segment = next(tmp_path.glob("*.seg"))
    with open(segment, "ab") as f:
        f.write(b"\x00\x00\x01\x00\x12\x34")  # a header promising 256 bytes that never came
    reopened = DiskSpool(tmp_path)
    assert reopened.pending == 10
    assert reopened.peek(100) == records(0, 10)
    reopened.append(records(10, 12))
    assert DiskSpool(tmp_path).peek(100) == records(0, 12)


def test_flipped_bit_is_detected_by_the_crc(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    spool.append(records(0, 10))
    segment = next(tmp_path.glob("*.seg"))
    data = bytearray(segment.read_bytes())
    data[-3] ^= 0xFF  # inside the last record's value
    segment.write_bytes(bytes(data))
    assert DiskSpool(tmp_path).peek(100) == records(0, 9)


def test_size_bound_refuses_new_records_and_counts_them(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, segment_bytes=512, max_bytes=1024)
    written = spool.append(records(0, 100))
    assert 0 < written < 100
    assert spool.overflow == 100 - written
    assert spool.size_bytes <= 1024
    assert spool.peek(1000) == records(0, written)  # the oldest are kept


def test_commit_beyond_pending_is_an_error(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    spool.append(records(0, 2))
    with pytest.raises(ValueError, match="only 2 are pending"):
        spool.commit(3)


def test_unreadable_cursor_is_reported_not_guessed(tmp_path: Path) -> None:
    (tmp_path / "cursor").write_text("garbage")
    with pytest.raises(SpoolError, match="cursor"):
        DiskSpool(tmp_path)
