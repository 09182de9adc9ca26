"""Block-mode semantics shared by both backends: scan, matched_ids, scan_many, flags."""

from __future__ import annotations

import pytest

from shared.matching import UNKNOWN_START, Match, Pattern, PatternFlag, compile_patterns

F = PatternFlag


def ids(backend: str, patterns: list[Pattern], data: bytes, mode: str = "block") -> set[int]:
    return compile_patterns(patterns, backend=backend, mode=mode).matched_ids(data)


@pytest.mark.parametrize("mode", ["block", "stream", "block+stream"])
def test_matched_ids_basic(backend: str, mode: str) -> None:
    patterns = [
        Pattern(10, r"union\s+select", F.CASELESS),
        Pattern(11, r"<script\b"),
        Pattern(12, b"../", F.LITERAL),
        Pattern(13, r"^GET "),
    ]
    db = compile_patterns(patterns, backend=backend, mode=mode)
    assert db.backend == backend
    assert db.matched_ids(b"id=1 UNION  Select x") == {10}
    assert db.matched_ids(b"GET /a/../b <script src=x>") == {11, 12, 13}
    assert db.matched_ids(b" GET <scripts") == set()
    assert db.matched_ids(b"") == set()


def test_flags(backend: str) -> None:
    patterns = [
        Pattern(1, "a.b", F.DOTALL),
        Pattern(2, "c.d"),
        Pattern(3, "^end$", F.MULTILINE),
        Pattern(4, "^end$"),
        Pattern(5, "ABC", F.CASELESS),
        Pattern(6, "a.c", F.LITERAL),
    ]
    assert ids(backend, patterns, b"a\nb c\nd") == {1}
    assert ids(backend, patterns, b"x\nend\ny") == {3}
    assert ids(backend, patterns, b"end\n") == {3, 4}  # PCRE $ also matches before a final newline
    assert ids(backend, patterns, b"abc") == {5}
    assert ids(backend, patterns, b"a.c") == {6}


def test_str_expressions_are_utf8_and_matched_bytewise(backend: str) -> None:
    patterns = [Pattern(1, "caf\u00e9"), Pattern(2, b"\xff\x00\x01", F.LITERAL), Pattern(3, b"x\x00y")]
    assert ids(backend, patterns, "un café".encode()) == {1}
    assert ids(backend, patterns, "un cafe\u0301".encode()) == set()
    # A NUL must not truncate the pattern: "\xff" alone or "x" alone is not a match.
    assert ids(backend, patterns, b"\xff\x00\x01") == {2}
    assert ids(backend, patterns, b"\xff x\x00z") == set()
    assert ids(backend, patterns, b"x\x00y") == {3}


def test_scan_offsets_and_singlematch(backend: str) -> None:
    patterns = [
        Pattern(1, "foo", F.SOM_LEFTMOST),
        Pattern(2, "bar", F.SINGLEMATCH),
        Pattern(3, "baz"),
    ]
    db = compile_patterns(patterns, backend=backend)
    matches = db.scan(b"foo bar foo bar baz")
    assert [m for m in matches if m.id == 1] == [Match(1, 0, 3), Match(1, 8, 11)]
    assert [m.end for m in matches if m.id == 2] == [7]
    baz = [m for m in matches if m.id == 3]
    assert [m.end for m in baz] == [19]
    # Without SOM Hyperscan does not track starts; the regex engine always knows them.
    assert baz[0].start == (UNKNOWN_START if backend == "hyperscan" else 16)
    assert [m.end for m in matches] == sorted(m.end for m in matches)


def test_hyperscan_reports_every_end_offset_python_reports_leftmost_matches(backend: str) -> None:
    db = compile_patterns([Pattern(1, r"\d+")], backend=backend)
    ends = [m.end for m in db.scan(b"ab123c")]
    assert ends == ([3, 4, 5] if backend == "hyperscan" else [5])


def test_scan_many_matches_matched_ids(backend: str) -> None:
    patterns = [Pattern(1, "select"), Pattern(2, r"(a)\1"), Pattern(3, "x{3,70000}"), Pattern(4, "q+", F.CASELESS)]
    db = compile_patterns(patterns, backend=backend)
    buffers = [b"select aa", b"", b"xxxx", b"QQ a a", b"nothing"]
    assert db.scan_many(buffers) == [db.matched_ids(b) for b in buffers]
    assert db.scan_many(buffers) == [{1, 2}, set(), {3}, {4}, set()]


def test_empty_pattern_set(backend: str) -> None:
    db = compile_patterns([], backend=backend, mode="block+stream")
    assert db.scan(b"abc") == [] and db.matched_ids(b"abc") == set()
    assert db.scan_many([b"a", b"b"]) == [set(), set()]
    stream = db.open_stream()
    assert stream.feed(b"abc") == [] and stream.close() == []
    assert db.report == {"hyperscan": 0, "prefilter+confirm": 0, "regex": 0}


def test_patterns_matching_the_empty_string(backend: str) -> None:
    db = compile_patterns([Pattern(1, "a*"), Pattern(2, "^$"), Pattern(3, "b")], backend=backend)
    assert db.matched_ids(b"") == {1, 2}
    assert db.matched_ids(b"xyz") == {1}
    assert db.matched_ids(b"b") == {1, 3}
    assert db.path_of(1) == ("hyperscan" if backend == "hyperscan" else "regex")


def test_invalid_arguments(backend: str) -> None:
    with pytest.raises(ValueError, match="duplicate pattern id 1"):
        compile_patterns([Pattern(1, "a"), Pattern(1, "b")], backend=backend)
    with pytest.raises(ValueError, match="unknown scan mode 'vectored'"):
        compile_patterns([Pattern(1, "a")], backend=backend, mode="vectored")
    with pytest.raises(ValueError, match="pattern id -1"):
        compile_patterns([Pattern(-1, "a")], backend=backend)
    db = compile_patterns([Pattern(1, "a")], backend=backend)
    with pytest.raises(ValueError, match="mode='block'"):
        db.open_stream()
    with pytest.raises(KeyError, match="no pattern with id 2"):
        db.path_of(2)


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="unknown matching backend 'pcre2'"):
        compile_patterns([Pattern(1, "a")], backend="pcre2")


def test_auto_backend_prefers_hyperscan() -> None:
    assert compile_patterns([Pattern(1, "a")]).backend == "hyperscan"
