"""Property: the hyperscan and python backends agree exactly on matched_ids (block and stream)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.matching import Pattern, PatternFlag, compile_patterns

F = PatternFlag

PATTERNS = [
    Pattern(1, r"sel(?:ect|ec)\s+\w+", F.CASELESS),
    Pattern(2, r"a.b", F.DOTALL),
    Pattern(3, r"a.c"),
    Pattern(4, r"^ab$", F.MULTILINE),
    Pattern(5, r"^ab"),
    Pattern(6, b"a.b*", F.LITERAL),
    Pattern(7, b"\x00\xff", F.LITERAL | F.CASELESS),
    Pattern(8, r"(?:or|and)\s+\d+=\d+", F.CASELESS),
    Pattern(9, r"(?:\.\./|\.\.\\)+"),
    Pattern(10, r"<(?:script|img)[^>]*>", F.CASELESS | F.SINGLEMATCH),
    Pattern(11, r"[[:digit:]]{3,}x"),
    Pattern(12, r"b\z"),
    Pattern(13, r"(a|b)\1c"),  # prefilter+confirm
    Pattern(14, r"(?<=x)yz"),  # prefilter+confirm
    Pattern(15, r"z{2,70000}q"),  # regex only
    Pattern(16, r"c$"),
    Pattern(17, r"\bab\b"),
    Pattern(18, r"a(?i)b|cd"),
    Pattern(19, r"q*"),  # matches the empty buffer
]

TOKENS = [b"a", b"b", b"c", b"x", b"y", b"z", b"q", b"\n", b" ", b"SELECT ", b"sElec ", b"or 1=1",
          b"../", b"..\\", b"<ScRiPt>", b"<img src=x>", b"123", b"a.b", b"\x00\xff", b"\x00\xFF",
          b"aac", b"bbc", b"abc", b"AB", b"Cd", b"\xff"]
DATA = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=20).map(b"".join),
    st.binary(max_size=64),
)

HS = compile_patterns(PATTERNS, backend="hyperscan", mode="block+stream")
PY = compile_patterns(PATTERNS, backend="python", mode="block+stream")


def test_fixture_uses_every_path() -> None:
    assert HS.report == {"hyperscan": 16, "prefilter+confirm": 2, "regex": 1}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DATA)
def test_block_matched_ids_agree(data: bytes) -> None:
    expected = PY.matched_ids(data)
    assert HS.matched_ids(data) == expected
    assert {m.id for m in HS.scan(data)} == expected
    assert {m.id for m in PY.scan(data)} == expected


@settings(max_examples=150, deadline=None)
@given(DATA, st.lists(st.integers(min_value=0, max_value=64), max_size=4))
def test_stream_matched_ids_agree_with_block(data: bytes, cuts: list[int]) -> None:
    expected = PY.matched_ids(data)
    bounds = sorted({0, len(data), *(min(c, len(data)) for c in cuts)})
    for db in (HS, PY):
        stream = db.open_stream()
        found: set[int] = set()
        for lo, hi in zip(bounds, bounds[1:]):
            found |= {m.id for m in stream.feed(data[lo:hi])}
        found |= {m.id for m in stream.close()}
        assert found == expected, db.backend
