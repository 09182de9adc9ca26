"""State that outlives one packet: thresholds / detection_filter, and host-scoped xbits.

Both are kept per engine (Suricata keeps them in the host table and the threshold hash), so a
reload starts them afresh, like a Suricata rule reload does for rule-scoped thresholds.

``threshold: type limit, track by_src, count 1, seconds 60`` alerts once per source a minute;
``type threshold, count 10, seconds 60`` every 10th match; ``type both`` once, when the 10th
match within the window is reached; ``detection_filter: track by_src, count 5, seconds 60``
alerts on every match after the 5th in the window (detect-engine-threshold.c semantics). The
window starts at the first match and a match after it has expired opens a new one.
"""

from __future__ import annotations

import threading

from services.ips.signatures.model import ThresholdSpec, XbitOp

_MAX_ENTRIES = 200_000  # a flood of distinct sources cannot grow the table without limit


class ThresholdTracker:
    """Decides whether a matching signature alerts, per its threshold or detection_filter."""

    def __init__(self) -> None:
        self._entries: dict[tuple, list[float]] = {}  # key -> [window_start, count, alerted]
        self._lock = threading.Lock()

    def allow(self, spec: ThresholdSpec, sig_key: tuple[int, int], src: str, dst: str, ts: float) -> bool:
        track = spec.track
        if track == "by_src":
            who: tuple = (src,)
        elif track == "by_dst":
            who = (dst,)
        elif track == "by_both":
            who = (src, dst)
        else:
            who = ()
        key = (sig_key, spec.kind, who)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or ts - entry[0] >= spec.seconds:
                if entry is None and len(self._entries) >= _MAX_ENTRIES:
                    self._evict(ts)
                entry = self._entries[key] = [ts, 0, 0]
            entry[1] += 1
            count = entry[1]
            kind = spec.kind
            if kind == "limit":
                return count <= spec.count
            if kind == "threshold":
                if count >= spec.count:
                    entry[1] = 0
                    return True
                return False
            if kind == "both":
                if count >= spec.count and not entry[2]:
                    entry[2] = 1
                    return True
                return False
            # detection_filter: every match once the rate has been exceeded
            return count > spec.count

    def _evict(self, ts: float) -> None:
        oldest = sorted(self._entries.items(), key=lambda kv: kv[1][0])[: len(self._entries) // 4]
        for key, _ in oldest:
            del self._entries[key]


class XbitStore:
    """xbits tracked by ``ip_src``, ``ip_dst`` or ``ip_pair``, with optional expiry (seconds)."""

    def __init__(self) -> None:
        self._bits: dict[tuple[str, tuple[str, ...]], float] = {}  # -> expiry ts (inf = none)
        self._lock = threading.Lock()

    @staticmethod
    def _key(op: XbitOp, src: str, dst: str) -> tuple[str, tuple[str, ...]]:
        if op.track == "ip_dst":
            return op.name, (dst,)
        if op.track == "ip_pair":
            return op.name, (src, dst)
        return op.name, (src,)

    def check(self, op: XbitOp, src: str, dst: str, ts: float) -> bool:
        key = self._key(op, src, dst)
        expiry = self._bits.get(key)
        present = expiry is not None and expiry > ts
        return present if op.cmd == "isset" else not present

    def apply(self, op: XbitOp, src: str, dst: str, ts: float) -> None:
        key = self._key(op, src, dst)
        with self._lock:
            if op.cmd == "set":
                self._bits[key] = ts + op.expire if op.expire else float("inf")
            elif op.cmd == "unset":
                self._bits.pop(key, None)
            elif op.cmd == "toggle":
                if self._bits.get(key, 0.0) > ts:
                    del self._bits[key]
                else:
                    self._bits[key] = ts + op.expire if op.expire else float("inf")
            if len(self._bits) > _MAX_ENTRIES:
                for k in [k for k, exp in self._bits.items() if exp <= ts] or list(self._bits)[: _MAX_ENTRIES // 4]:
                    self._bits.pop(k, None)
