"""TCP stream reassembly for one direction of a connection.

``StreamReassembler.segment(seq, payload)`` returns what became deliverable, in order, each
stream byte exactly once: ``[b"GET / HT", b"TP/1.1\\r\\n"]`` for data, an ``int`` n for a gap of
n bytes that will never arrive. Rules, after Suricata's stream engine with its default policy:

- the initial sequence number comes from the SYN, or from the first segment seen when the capture
  starts mid-connection; sequence numbers wrap at 2**32 (offsets are kept as Python ints);
- a segment ahead of the expected byte is held (out of order) until the hole before it fills;
- overlapping bytes are resolved **first wins**: bytes already received (delivered or held) are
  never replaced by a later copy, so retransmissions are dropped and an attacker cannot rewrite
  what the IPS saw (the overlap evasions of Ptacek & Newsham; Suricata's ``bsd``/default policy
  keeps the original data for the overlapped part as well);
- held data is bounded (``max_buffered``, 1 MiB by default, like ``stream.reassembly.memcap``
  per flow): past it the hole is declared a gap and reassembly skips ahead;
- bytes at or after the FIN are ignored; a segment far outside any sane window is dropped.

Delivered bytes are not kept, so memory stays bounded however long the connection lives.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque

__all__ = ["StreamReassembler", "DEFAULT_MAX_BUFFERED"]

DEFAULT_MAX_BUFFERED = 1 << 20
_MOD = 1 << 32
_HALF = 1 << 31
#: A segment starting further than this beyond the expected byte is not plausible (no TCP window
#: is that large, even scaled); it is dropped rather than held.
MAX_AHEAD = 1 << 30


def _delta(a: int, b: int) -> int:
    """Signed distance from sequence number b to a, in the 32-bit circle."""
    return ((a - b + _HALF) % _MOD) - _HALF


class StreamReassembler:
    __slots__ = (
        "isn", "next_seq", "offset", "fin_offset", "max_buffered", "_held", "_held_bytes",
        "dropped_bytes", "gap_bytes", "overlaps", "_recent",
    )

    def __init__(self, *, max_buffered: int = DEFAULT_MAX_BUFFERED) -> None:
        self.isn: int | None = None
        self.next_seq = 0  # 32-bit sequence number of the next stream byte to deliver
        self.offset = 0  # stream offset of that byte (bytes delivered + gaps so far)
        self.fin_offset: int | None = None
        self.max_buffered = max_buffered
        self._held: list[tuple[int, bytes]] = []  # (stream offset, data), sorted, non-overlapping
        self._held_bytes = 0
        self.dropped_bytes = 0  # retransmitted / overlapping / after-FIN bytes ignored
        self.gap_bytes = 0
        self.overlaps = 0  # segments whose data differed from what was already received
        # The last few delivered chunks (references, not copies), to notice a retransmission that
        # carries different bytes (Suricata's stream event reassembly_overlap_different_data).
        self._recent: deque[tuple[int, bytes]] = deque(maxlen=8)

    @property
    def started(self) -> bool:
        return self.isn is not None

    @property
    def buffered(self) -> int:
        return self._held_bytes

    def syn(self, seq: int) -> None:
        """A SYN from this side: the stream starts at seq + 1."""
        if self.isn is None:
            self.isn = seq
            self.next_seq = (seq + 1) % _MOD

    def in_window(self, seq: int, window: int = 1 << 20) -> bool:
        """Whether ``seq`` is plausibly in this stream (used to accept RSTs)."""
        if self.isn is None:
            return True
        return -window <= _delta(seq, self.next_seq) <= window

    def segment(self, seq: int, payload: bytes, *, fin: bool = False) -> list[bytes | int]:
        """Add one segment; return deliverable data (bytes) and gaps (int lengths) in order."""
        if self.isn is None:
            # Mid-stream pickup: the first segment seen defines the start.
            self.isn = (seq - 1) % _MOD
            self.next_seq = seq
        d = _delta(seq, self.next_seq)
        if d > MAX_AHEAD:
            self.dropped_bytes += len(payload)
            return []
        start = self.offset + d
        if fin:
            end_off = start + len(payload)
            if self.fin_offset is None or end_off < self.fin_offset:
                self.fin_offset = end_off
        if not payload:
            return []
        end = start + len(payload)
        if self.fin_offset is not None and end > self.fin_offset:
            cut = max(self.fin_offset - start, 0)
            self.dropped_bytes += len(payload) - cut
            payload = payload[:cut]
            end = start + cut
        if start < self.offset:
            self._compare_delivered(start, payload)
            if end <= self.offset:
                self.dropped_bytes += len(payload)
                return []
            self.dropped_bytes += self.offset - start
            payload = payload[self.offset - start :]
            start = self.offset
        if start == self.offset and not self._held:
            self._recent.append((start, payload))
            self._advance(len(payload))
            return [payload]
        self._insert(start, payload)
        out = self._drain()
        while self._held_bytes > self.max_buffered:
            gap_start_data = self._held[0][0]
            out.append(self._skip_to(gap_start_data))
            out.extend(self._drain())
        return out

    def flush(self) -> list[bytes | int]:
        """End of the connection: hand out held data, with the holes before it as gaps."""
        out: list[bytes | int] = []
        if self.fin_offset is not None:
            while self._held and self._held[-1][0] >= self.fin_offset:
                self._held_bytes -= len(self._held.pop()[1])
        while self._held:
            out.append(self._skip_to(self._held[0][0]))
            out.extend(self._drain())
        return out

    # -- internals -------------------------------------------------------------------------------
    def _advance(self, n: int) -> None:
        self.offset += n
        self.next_seq = (self.next_seq + n) % _MOD

    def _compare_delivered(self, start: int, payload: bytes) -> None:
        end = start + len(payload)
        for s, d in self._recent:
            lo, hi = max(start, s), min(end, s + len(d))
            if hi > lo and payload[lo - start : hi - start] != d[lo - s : hi - s]:
                self.overlaps += 1
                return

    def _skip_to(self, off: int) -> int:
        n = off - self.offset
        self.gap_bytes += n
        self._advance(n)
        return n

    def _insert(self, start: int, data: bytes) -> None:
        """Keep only the parts of [start, start+len) no held segment covers (first wins)."""
        held = self._held
        end = start + len(data)
        i = bisect_left(held, (start,))
        if i > 0 and held[i - 1][0] + len(held[i - 1][1]) > start:
            i -= 1
        pos = start
        pieces: list[tuple[int, bytes]] = []
        while i < len(held) and held[i][0] < end:
            hs, hd = held[i]
            he = hs + len(hd)
            if hs > pos:
                pieces.append((pos, data[pos - start : hs - start]))
            lo, hi = max(pos, hs), min(end, he)
            if hi > lo:
                self.dropped_bytes += hi - lo
                if data[lo - start : hi - start] != hd[lo - hs : hi - hs]:
                    self.overlaps += 1
            pos = max(pos, he)
            i += 1
        if pos < end:
            pieces.append((pos, data[pos - start :]))
        for piece in pieces:
            insort(held, piece)
            self._held_bytes += len(piece[1])

    def _drain(self) -> list[bytes | int]:
        held = self._held
        parts: list[bytes] = []
        while held and held[0][0] <= self.offset:
            s, d = held.pop(0)
            self._held_bytes -= len(d)
            if s < self.offset:
                d = d[self.offset - s :]
                s = self.offset
            if self.fin_offset is not None and s + len(d) > self.fin_offset:
                self.dropped_bytes += s + len(d) - max(self.fin_offset, s)
                d = d[: max(self.fin_offset - s, 0)]
            if d:
                parts.append(d)
                self._recent.append((self.offset, d))
                self._advance(len(d))
        if not parts:
            return []
        return [parts[0] if len(parts) == 1 else b"".join(parts)]
