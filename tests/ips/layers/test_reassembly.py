"""TCP reassembly of one direction: order, overlaps (first wins), wrap-around, bounds."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from services.ips.layers.reassembly import StreamReassembler


def collect(out):
    data = b"".join(c for c in out if isinstance(c, bytes))
    gaps = [c for c in out if isinstance(c, int)]
    return data, gaps


def test_in_order_delivers_immediately():
    r = StreamReassembler()
    r.syn(100)
    assert r.segment(101, b"abc") == [b"abc"]
    assert r.segment(104, b"def") == [b"def"]
    assert r.offset == 6 and r.buffered == 0


def test_out_of_order_held_then_released_once():
    r = StreamReassembler()
    r.syn(0)
    assert r.segment(5, b"efgh") == []
    assert r.buffered == 4
    assert r.segment(1, b"abcd") == [b"abcdefgh"]
    assert r.buffered == 0


def test_retransmission_dropped_and_overlap_first_wins():
    r = StreamReassembler()
    r.syn(0)
    out = r.segment(1, b"hello")
    out += r.segment(1, b"hello")  # exact retransmission
    out += r.segment(3, b"XXXworld")  # overlaps "llo" with different bytes, then new data
    assert collect(out) == (b"helloworld", [])
    assert r.overlaps == 1 and r.dropped_bytes == 8


def test_first_wins_among_held_segments():
    r = StreamReassembler()
    r.syn(0)
    r.segment(11, b"KLMNO")  # held first: offsets 10..14
    r.segment(6, b"fghijXXXXXp")  # later copy overlapping 10..14 with X, plus 'p' at 15
    out = r.segment(1, b"abcde")
    assert collect(out) == (b"abcdefghijKLMNOp", [])


def test_in_order_segment_does_not_overwrite_held_bytes():
    r = StreamReassembler()
    r.syn(0)
    r.segment(4, b"DEF")  # offsets 3..5 arrive first
    out = r.segment(1, b"abcxxxg")
    assert collect(out) == (b"abcDEFg", [])


def test_sequence_wraparound():
    r = StreamReassembler()
    r.syn(2**32 - 3)
    out = r.segment(2**32 - 2, b"ab") + r.segment(2, b"ef") + r.segment(0, b"cd")
    assert collect(out) == (b"abcdef", [])
    assert r.next_seq == 4


def test_midstream_pickup_uses_first_segment():
    r = StreamReassembler()
    assert r.segment(555, b"mid") == [b"mid"]
    assert r.segment(558, b"dle") == [b"dle"]


def test_data_after_fin_ignored():
    r = StreamReassembler()
    r.syn(0)
    out = r.segment(1, b"bye", fin=True)
    out += r.segment(4, b"more")
    assert collect(out) == (b"bye", [])


def test_fin_trims_held_data_beyond_it():
    r = StreamReassembler()
    r.syn(0)
    r.segment(4, b"defgh")
    r.segment(6, b"", fin=True)  # FIN at offset 5
    out = r.segment(1, b"abc")
    assert collect(out) == (b"abcde", [])


def test_buffer_limit_declares_gap():
    r = StreamReassembler(max_buffered=100)
    r.syn(0)
    out = r.segment(51, b"A" * 60)  # hole of 50 bytes
    assert out == []
    out = r.segment(111, b"B" * 60)  # now 120 bytes held > 100: skip the hole
    assert out == [50, b"A" * 60 + b"B" * 60]
    assert r.gap_bytes == 50 and r.buffered == 0
    # the lost bytes arrive late: dropped, stream continues
    assert r.segment(1, b"x" * 50) == []
    assert r.segment(171, b"C") == [b"C"]


def test_flush_reports_holes():
    r = StreamReassembler()
    r.syn(0)
    r.segment(1, b"ab")
    r.segment(6, b"fg")
    assert r.flush() == [3, b"fg"]


def test_far_future_segment_dropped():
    r = StreamReassembler()
    r.syn(0)
    assert r.segment(2**31 - 10, b"evil") == []
    assert r.buffered == 0


def test_long_stream_keeps_no_history():
    r = StreamReassembler()
    r.syn(0)
    seq = 1
    chunk = b"z" * 1400
    for _ in range(20000):  # 28 MB through one direction
        r.segment(seq, chunk)
        seq += len(chunk)
    assert r.buffered == 0 and r.offset == 28_000_000


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.integers(0, 2**32 - 1), st.randoms(use_true_random=False))
def test_any_arrival_order_yields_the_stream_once(data, isn, rnd: random.Random):
    segs = []
    i = 0
    while i < len(data):
        n = rnd.randint(1, 40)
        segs.append((i, data[i : i + n]))
        i += n
    # duplicates and partial overlaps carrying the same bytes
    extra = []
    for off, blob in segs:
        if rnd.random() < 0.3:
            a = rnd.randint(0, len(blob) - 1)
            extra.append((off + a, blob[a:] + data[off + len(blob) : off + len(blob) + rnd.randint(0, 10)]))
    allsegs = segs + extra
    rnd.shuffle(allsegs)
    r = StreamReassembler()
    r.syn(isn)
    out = []
    for off, blob in allsegs:
        out += r.segment((isn + 1 + off) % 2**32, blob)
    out += r.flush()
    assert collect(out) == (data, [])
