"""A compiled, immutable pattern set and its scan entry points (block, batch, stream).

One class serves both backends: the python backend is the degenerate case where every pattern
runs on the ``regex`` path and there is no Hyperscan database. Everything reachable from a
MatchDatabase is read-only after construction, so one instance is shared by all threads; the only
per-thread state is Hyperscan scratch space (``threading.local``), because one scratch can serve
only one scan at a time (hs_scan returns HS_SCRATCH_IN_USE, the binding's ScratchInUseError) and
the binding's default ``Database.scratch`` is shared by every thread.

Hyperscan semantics (developer reference, "Matching"): for each pattern every end offset at which
it matches is reported, in end-offset order; the start is only tracked with SOM_LEFTMOST. Each
Python callback costs about 0.13 us, so callbacks below only append/add, and ``matched_ids`` scans
a SINGLEMATCH twin database in which each pattern reports at most once.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import hyperscan as hs

from shared.matching.hyperscan_build import PATH_HYPERSCAN, PATH_PREFILTER, PATH_REGEX, PATHS
from shared.matching.model import UNKNOWN_START, Match, Pattern, PatternFlag
from shared.matching.regex_path import RegexProgram

DEFAULT_STREAM_HISTORY = 1 << 20


def _collect(pattern_id: int, start: int, end: int, flags: int, out: list[tuple[int, int, int]]) -> None:
    out.append((pattern_id, start, end))


def _collect_id(pattern_id: int, start: int, end: int, flags: int, out: set[int]) -> None:
    out.add(pattern_id)


_END = operator.itemgetter(2)


def _sort_key(m: Match) -> tuple[int, int, int]:
    return (m.end, m.id, m.start)


class MatchDatabase:
    """A compiled pattern set. Build it with ``compile_patterns``; share it between threads.

    ``scan`` returns Match objects: on the ``hyperscan`` path every end offset (Hyperscan
    semantics; one match only with SINGLEMATCH; ``start`` is -1 unless SOM_LEFTMOST), on the
    ``prefilter+confirm`` and ``regex`` paths the non-overlapping leftmost matches of Python ``re``
    (one with SINGLEMATCH). ``matched_ids`` is exact on every path and for both backends.
    """

    def __init__(
        self,
        *,
        backend: str,
        mode: str,
        patterns: Sequence[Pattern],
        paths: dict[int, str],
        programs: dict[int, RegexProgram],
        block_db: hs.Database | None = None,
        single_db: hs.Database | None = None,
        stream_db: hs.Database | None = None,
        streams: bool = False,
        from_cache: bool = False,
    ) -> None:
        self.backend = backend
        self.mode = mode
        self.from_cache = from_cache
        self._patterns = {p.id: p for p in patterns}
        self._paths = dict(paths)
        self.report: dict[str, int] = {path: 0 for path in PATHS}
        for path in self._paths.values():
            self.report[path] += 1
        self._programs = programs
        self._confirm = frozenset(i for i, p in self._paths.items() if p == PATH_PREFILTER)
        self._regex_only = tuple(programs[i] for i, p in self._paths.items() if p == PATH_REGEX)
        self._som = frozenset(
            p.id for p in patterns if p.flags & PatternFlag.SOM_LEFTMOST and self._paths[p.id] == PATH_HYPERSCAN
        )
        self._block_db = block_db
        self._single_db = single_db
        self._stream_db = stream_db
        self._streams = streams
        self._local = threading.local()
        # Stream.close() in the binding 0.9.1 cannot take a scratch (its "O!" converter
        # arguments are swapped, any scratch raises TypeError), so hs_close_stream always runs on
        # the database's own scratch: it must exist (loadb leaves it None, which would crash) and
        # closes are serialized (the GIL alone is not enough: it can switch inside a callback).
        if stream_db is not None and stream_db.scratch is None:
            stream_db.scratch = hs.Scratch(stream_db)
        self._close_lock = threading.RLock()

    # -- introspection ------------------------------------------------------------------------

    def path_of(self, pattern_id: int) -> str:
        """How a pattern runs: "hyperscan", "prefilter+confirm" or "regex"."""
        try:
            return self._paths[pattern_id]
        except KeyError:
            raise KeyError(f"no pattern with id {pattern_id} in this database") from None

    @property
    def pattern_ids(self) -> frozenset[int]:
        return frozenset(self._patterns)

    @property
    def has_stream(self) -> bool:
        return self._streams

    def __len__(self) -> int:
        return len(self._patterns)

    def __repr__(self) -> str:
        return f"<MatchDatabase backend={self.backend} mode={self.mode} patterns={len(self)} report={self.report}>"

    def scratch(self, db: hs.Database) -> hs.Scratch:
        """This thread's scratch for one of our Hyperscan databases (allocated on first use)."""
        cache: dict[int, hs.Scratch] | None = getattr(self._local, "scratch", None)
        if cache is None:
            cache = self._local.scratch = {}
        s = cache.get(id(db))
        if s is None:
            s = cache[id(db)] = hs.Scratch(db)
        return s

    # -- block mode ---------------------------------------------------------------------------

    def scan(self, data: bytes) -> list[Match]:
        """All matches in one buffer, ordered by end offset."""
        if self._block_db is None and self._stream_db is not None:
            stream = self.open_stream(max_history=None)
            return sorted(stream.feed(data) + stream.close(), key=_sort_key)
        out: list[Match] = []
        candidates: set[int] = set()
        if self._block_db is not None:
            raw: list[tuple[int, int, int]] = []
            self._block_db.scan(data, _collect, 0, raw, self.scratch(self._block_db))
            raw.sort(key=_END)  # C-level and linear on Hyperscan's (end-ordered) output
            confirm, som = self._confirm, self._som
            if not confirm and not som:
                out = [Match(pattern_id, UNKNOWN_START, end) for pattern_id, _, end in raw]
            else:
                for pattern_id, start, end in raw:
                    if pattern_id in confirm:
                        candidates.add(pattern_id)
                    else:
                        out.append(Match(pattern_id, start if pattern_id in som else UNKNOWN_START, end))
        if not candidates and not self._regex_only:
            return out
        for pattern_id in candidates:
            out.extend(self._programs[pattern_id].matches(data))
        for program in self._regex_only:
            out.extend(program.matches(data))
        out.sort(key=_sort_key)
        return out

    def matched_ids(self, data: bytes) -> set[int]:
        """Which patterns match anywhere in ``data`` (the WAF fast path)."""
        ids: set[int] = set()
        db = self._single_db
        if db is not None:
            db.scan(data, _collect_id, 0, ids, self.scratch(db))
            if self._confirm:
                self._confirm_ids(ids, data)
        elif self._stream_db is not None:
            return {m.id for m in self.scan(data)}
        for program in self._regex_only:
            if program.regex.search(data) is not None:
                ids.add(program.id)
        return ids

    def _confirm_ids(self, ids: set[int], data: bytes) -> None:
        programs = self._programs
        for pattern_id in self._confirm.intersection(ids):
            if programs[pattern_id].regex.search(data) is None:
                ids.discard(pattern_id)

    def scan_many(self, buffers: Sequence[bytes]) -> list[set[int]]:
        """``matched_ids`` of each buffer; per-call work is hoisted out of the loop."""
        db = self._single_db
        if db is None:
            return [self.matched_ids(b) for b in buffers]
        scan, scratch = db.scan, self.scratch(db)
        regex_only, confirm = self._regex_only, self._confirm
        if not confirm and not regex_only:  # all on Hyperscan: nothing to do between scans
            results = [set() for _ in buffers]
            for data, ids in zip(buffers, results):
                scan(data, _collect_id, 0, ids, scratch)
            return results
        results = []
        for data in buffers:
            ids: set[int] = set()
            scan(data, _collect_id, 0, ids, scratch)
            if confirm and not confirm.isdisjoint(ids):
                self._confirm_ids(ids, data)
            for program in regex_only:
                if program.regex.search(data) is not None:
                    ids.add(program.id)
            results.append(ids)
        return results

    # -- stream mode --------------------------------------------------------------------------

    def open_stream(self, *, max_history: int | None = DEFAULT_STREAM_HISTORY) -> MatchStream:
        """A stream whose matches may span ``feed`` boundaries (one per TCP flow direction).

        ``max_history`` bounds the bytes kept for the Python side (prefilter confirmation and
        regex-path patterns, and every pattern of the python backend): those see at most the
        last ``max_history`` bytes, like Suricata's stream reassembly depth. None keeps it all.
        Patterns on the ``hyperscan`` path keep no history: Hyperscan carries its own state.
        """
        if not self._streams:
            raise ValueError(
                f"this database was compiled with mode={self.mode!r}; use mode='stream' or "
                "'block+stream' to open streams"
            )
        if max_history is not None and max_history <= 0:
            raise ValueError(f"max_history must be positive or None, got {max_history}")
        return MatchStream(self, max_history)

    # Accessors for MatchStream (kept off the public surface).
    def _stream_parts(
        self,
    ) -> tuple[Any, frozenset[int], frozenset[int], tuple[RegexProgram, ...], dict[int, RegexProgram], threading.RLock]:
        return self._stream_db, self._confirm, self._som, self._regex_only, self._programs, self._close_lock


class MatchStream:
    """Incremental scanning of one stream; not thread-safe (one flow is handled by one task).

    Matches carry absolute stream offsets. Python-side patterns are evaluated over the buffered
    history at each ``feed``; a Python match that ends exactly at the end of the data seen so far
    is held back until more data (or ``close``) shows it cannot extend, so a greedy ``ab+`` split
    as "ab" | "b" reports the same single match as a block scan. Lookahead beyond the data received
    so far is evaluated on what has arrived, as Suricata does on a reassembled chunk.
    """

    def __init__(self, database: MatchDatabase, max_history: int | None) -> None:
        stream_db, confirm, som, regex_only, programs, close_lock = database._stream_parts()
        self._close_lock = close_lock
        self._database = database
        self._max_history = max_history
        self._confirm = confirm
        self._som = som
        self._programs = programs
        self._regex_only = regex_only
        self._armed: set[int] = set()
        self._reported_end: dict[int, int] = {}
        self._offset = 0  # bytes fed so far
        self._history = bytearray()
        self._history_base = 0  # stream offset of _history[0]
        self._keep_history = bool(confirm or regex_only)
        self._closed = False
        # The binding's Stream keeps no reference to the callback or its context (Stream_init
        # stores borrowed pointers): we hold both for the life of the stream, or the first match
        # would call freed memory. Reference counts in the binding: Database.stream() returns
        # the stream with one extra reference and Stream.__enter__ returns ``self`` without
        # taking one, so exactly one __enter__ per stream from Database.stream() balances them
        # (a Stream built directly and entered is freed while in use).
        self._hits: list[tuple[int, int, int]] = []
        self._callback = _collect
        self._hs_stream: Any = None
        self._stream_db = stream_db
        if stream_db is not None:
            self._scratch = database.scratch(stream_db)
            hs_stream = stream_db.stream(self._callback, 0, self._hits)
            hs_stream.__enter__()  # hs_open_stream
            self._hs_stream = hs_stream

    @property
    def offset(self) -> int:
        return self._offset

    @property
    def closed(self) -> bool:
        return self._closed

    def feed(self, data: bytes) -> list[Match]:
        if self._closed:
            raise ValueError("feed() on a closed MatchStream")
        out: list[Match] = []
        if self._hs_stream is not None:
            self._hs_stream.scan(data, 0, self._scratch, self._callback, self._hits)
            self._drain(out)
        self._offset += len(data)
        if self._keep_history:
            self._history += data
            if self._max_history is not None and len(self._history) > self._max_history:
                cut = len(self._history) - self._max_history
                del self._history[:cut]
                self._history_base += cut
            self._run_python(out, final=False)
        out.sort(key=_sort_key)
        return out

    def close(self) -> list[Match]:
        """End of stream: matches that needed end-of-data (``$``, ``\\z``, held-back regex ones)."""
        if self._closed:
            return []
        self._closed = True
        out: list[Match] = []
        if self._hs_stream is not None:
            hs_stream, self._hs_stream = self._hs_stream, None
            with self._close_lock:
                hs_stream.close(match_event_handler=self._callback, context=self._hits)
            self._drain(out)
        if self._keep_history:
            self._run_python(out, final=True)
            self._history = bytearray()
        out.sort(key=_sort_key)
        return out

    def __enter__(self) -> MatchStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # hs_close_stream frees the stream state; the binding's dealloc does not, so a stream
        # dropped without close() would leak it. Matches at end of data are discarded.
        hs_stream = getattr(self, "_hs_stream", None)
        if hs_stream is not None:
            self._hs_stream = None
            try:
                with self._close_lock:
                    hs_stream.close(match_event_handler=self._callback, context=[])
            except hs.error:  # e.g. the finalizer ran inside another close on this thread
                pass

    def _drain(self, out: list[Match]) -> None:
        confirm, som = self._confirm, self._som
        for pattern_id, start, end in self._hits:
            if pattern_id in confirm:
                self._armed.add(pattern_id)
            else:
                out.append(Match(pattern_id, start if pattern_id in som else UNKNOWN_START, end))
        self._hits.clear()

    def _run_python(self, out: list[Match], *, final: bool) -> None:
        data = bytes(self._history)
        base = self._history_base
        held = self._offset if final else self._offset - 1  # hold back matches touching the end
        programs: Iterable[RegexProgram] = list(self._regex_only) + [self._programs[i] for i in self._armed]
        for program in programs:
            limit = self._offset if program.fixed else held
            reported = self._reported_end.get(program.id, -1)
            if program.single and reported >= 0:
                continue  # SINGLEMATCH: at most one match per stream, as Hyperscan does
            for m in program.regex.finditer(data):
                end = base + m.end()
                if reported < end <= limit:
                    out.append(Match(program.id, base + m.start(), end))
                    reported = self._reported_end[program.id] = end
                    if program.single:
                        break
