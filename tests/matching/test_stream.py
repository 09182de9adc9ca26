"""Stream mode: matches across feed boundaries, every split point, end-of-stream matches."""

from __future__ import annotations

import pytest

from shared.matching import Pattern, PatternFlag, compile_patterns

F = PatternFlag

PATTERNS = [
    Pattern(1, r"union\s+all\s+select", F.CASELESS),
    Pattern(2, b"/etc/passwd", F.LITERAL),
    Pattern(3, r"(\w)\1{3}"),  # prefilter+confirm on hyperscan
    Pattern(4, r"q{2,70000}z"),  # regex-only on hyperscan
]
DATA = b"GET /?id=1 UNION ALL  SELECT x&f=../../etc/passwd&p=aaaa&y=qqqz HTTP/1.1"


def ids_over_feeds(db, chunks: list[bytes]) -> set[int]:  # type: ignore[no-untyped-def]
    stream = db.open_stream()
    found = set()
    for chunk in chunks:
        found |= {m.id for m in stream.feed(chunk)}
    found |= {m.id for m in stream.close()}
    return found


@pytest.mark.parametrize("mode", ["stream", "block+stream"])
def test_every_split_point_of_two_feeds(backend: str, mode: str) -> None:
    db = compile_patterns(PATTERNS, backend=backend, mode=mode)
    assert db.matched_ids(DATA) == {1, 2, 3, 4}
    for cut in range(len(DATA) + 1):
        assert ids_over_feeds(db, [DATA[:cut], DATA[cut:]]) == {1, 2, 3, 4}, cut


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_many_small_feeds(backend: str, size: int) -> None:
    db = compile_patterns(PATTERNS, backend=backend, mode="stream")
    chunks = [DATA[i : i + size] for i in range(0, len(DATA), size)]
    assert ids_over_feeds(db, chunks) == {1, 2, 3, 4}


def test_stream_offsets_are_absolute_and_match_block_scan(backend: str) -> None:
    patterns = [Pattern(1, "needle", F.SOM_LEFTMOST), Pattern(2, r"(ab)\1")]
    db = compile_patterns(patterns, backend=backend, mode="block+stream")
    data = b"xx needle yy abab needle"
    stream = db.open_stream()
    got = stream.feed(data[:5]) + stream.feed(data[5:14]) + stream.feed(data[14:]) + stream.close()
    assert sorted((m.id, m.start, m.end) for m in got) == sorted((m.id, m.start, m.end) for m in db.scan(data))
    assert stream.offset == len(data)


def test_end_anchored_patterns_match_at_close(backend: str) -> None:
    db = compile_patterns([Pattern(1, r"end\z"), Pattern(2, r"ab+")], backend=backend, mode="stream")
    stream = db.open_stream()
    first = stream.feed(b"the end")
    assert 1 not in {m.id for m in first}  # more data may follow
    assert {m.id for m in stream.feed(b" and the end")} <= {2}
    assert [m.id for m in stream.close()] == [1]
    assert stream.closed and stream.close() == []
    with pytest.raises(ValueError, match="closed"):
        stream.feed(b"x")


def test_greedy_regex_match_is_held_back_until_it_cannot_grow() -> None:
    # Python-side patterns report a match touching the end of the data only once it is final,
    # so a split inside "abbb" yields the same single match as a block scan.
    db = compile_patterns([Pattern(1, r"ab+")], backend="python", mode="stream")
    stream = db.open_stream()
    assert stream.feed(b"xab") == []
    assert stream.feed(b"bb") == []
    matches = stream.feed(b"c") + stream.close()
    assert [(m.start, m.end) for m in matches] == [(1, 5)]


def test_max_history_bounds_python_side(backend: str) -> None:
    db = compile_patterns([Pattern(1, r"(\w)\1{9}!")], backend=backend, mode="stream")
    bounded, unbounded = db.open_stream(max_history=8), db.open_stream(max_history=None)
    for stream in (bounded, unbounded):
        stream.feed(b"zzzzzzzzzz")
    # The 11-byte match no longer fits in 8 bytes of history: like a reassembly depth limit.
    assert bounded.feed(b"!") + bounded.close() == []
    assert [(m.start, m.end) for m in unbounded.feed(b"!") + unbounded.close()] == [(0, 11)]
    with pytest.raises(ValueError, match="max_history"):
        db.open_stream(max_history=0)


def test_dropped_open_stream_is_released(backend: str) -> None:
    db = compile_patterns(PATTERNS, backend=backend, mode="stream")
    for _ in range(200):
        stream = db.open_stream()
        stream.feed(DATA)
        del stream  # __del__ closes the Hyperscan stream state
    assert ids_over_feeds(db, [DATA]) == {1, 2, 3, 4}
