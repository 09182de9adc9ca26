"""Database cache shared by worker processes, and per-thread scratch."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from shared.matching import Pattern, PatternFlag, compile_patterns, compile_stats

PATTERNS = [
    Pattern(1, r"union\s+select", PatternFlag.CASELESS),
    Pattern(2, r"(\w+)=\1"),  # prefilter+confirm
    Pattern(3, r"x{2,70000}y"),  # regex
    Pattern(4, r"<script", PatternFlag.SOM_LEFTMOST),
]
DATA = b"a=a&q=UNION SELECT&x=xxy <script>"


@pytest.mark.parametrize("mode", ["block", "stream", "block+stream"])
def test_cache_hit_loads_without_compiling(tmp_path: Path, mode: str) -> None:
    first = compile_patterns(PATTERNS, backend="hyperscan", mode=mode, cache_dir=tmp_path)
    assert not first.from_cache
    assert len(list(tmp_path.glob("*.hsdb"))) == 1
    compiles, hits = compile_stats["hyperscan_compiles"], compile_stats["cache_hits"]
    second = compile_patterns(PATTERNS, backend="hyperscan", mode=mode, cache_dir=tmp_path)
    assert second.from_cache
    assert compile_stats["hyperscan_compiles"] == compiles
    assert compile_stats["cache_hits"] == hits + 1
    assert {p.id: second.path_of(p.id) for p in PATTERNS} == {p.id: first.path_of(p.id) for p in PATTERNS}
    assert second.matched_ids(DATA) == first.matched_ids(DATA) == {1, 2, 3, 4}
    assert second.scan(DATA) == first.scan(DATA)
    if "stream" in mode:
        stream = second.open_stream()
        got = {m.id for m in stream.feed(DATA[:12]) + stream.feed(DATA[12:]) + stream.close()}
        assert got == {1, 2, 3, 4}


def test_cache_key_covers_flags_and_mode(tmp_path: Path) -> None:
    compile_patterns(PATTERNS, backend="hyperscan", cache_dir=tmp_path)
    changed = [Pattern(1, r"union\s+select")] + PATTERNS[1:]
    db = compile_patterns(changed, backend="hyperscan", cache_dir=tmp_path)
    assert not db.from_cache and db.matched_ids(b"UNION SELECT") == set()
    assert not compile_patterns(PATTERNS, backend="hyperscan", mode="stream", cache_dir=tmp_path).from_cache
    assert len(list(tmp_path.glob("*.hsdb"))) == 3


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "garbage"])
def test_corrupt_cache_file_is_rebuilt(tmp_path: Path, damage: str) -> None:
    compile_patterns(PATTERNS, backend="hyperscan", cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.hsdb")
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0xFF
    elif damage == "truncate":
        raw = raw[: len(raw) - 100]
    elif damage == "empty":
        raw = bytearray()
    else:
        raw = bytearray(b"\x00" * 64)
    path.write_bytes(bytes(raw))
    compiles, rejected = compile_stats["hyperscan_compiles"], compile_stats["cache_rejected"]
    db = compile_patterns(PATTERNS, backend="hyperscan", cache_dir=tmp_path)
    assert not db.from_cache
    assert compile_stats["cache_rejected"] == rejected + 1
    assert compile_stats["hyperscan_compiles"] > compiles
    assert db.matched_ids(DATA) == {1, 2, 3, 4}
    # The rebuilt file is whole again and serves the next process.
    assert compile_patterns(PATTERNS, backend="hyperscan", cache_dir=tmp_path).from_cache
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("backend", ["hyperscan", "python"])
def test_concurrent_scans_from_four_threads(backend: str) -> None:
    db = compile_patterns(PATTERNS, backend=backend, mode="block+stream")
    expected = db.matched_ids(DATA)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        try:
            barrier.wait()
            for i in range(300):
                assert db.matched_ids(DATA) == expected
                assert {m.id for m in db.scan(DATA)} == expected
                assert db.scan_many([DATA, b"", DATA]) == [expected, set(), expected]
                if i % 10 == 0:
                    stream = db.open_stream()
                    got = stream.feed(DATA[:7]) + stream.feed(DATA[7:]) + stream.close()
                    assert {m.id for m in got} == expected
        except BaseException as exc:  # re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_cache_written_by_another_process_is_loaded(tmp_path: Path) -> None:
    # What N worker processes do: one compiles and writes, the others load (DESIGN.md).
    import subprocess
    import sys

    script = (
        "import sys; from pathlib import Path\n"
        "from tests.matching.test_cache_and_threads import PATTERNS\n"
        "from shared.matching import compile_patterns\n"
        "db = compile_patterns(PATTERNS, backend='hyperscan', mode='block+stream', cache_dir=Path(sys.argv[1]))\n"
        "assert not db.from_cache\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=root, check=True, timeout=60)
    compiles = compile_stats["hyperscan_compiles"]
    db = compile_patterns(PATTERNS, backend="hyperscan", mode="block+stream", cache_dir=tmp_path)
    assert db.from_cache and compile_stats["hyperscan_compiles"] == compiles
    assert db.matched_ids(DATA) == {1, 2, 3, 4}
