"""Verdict cache keyed by (sha256, pack@version).

Keying on the pack version means a reload with new signatures never serves a verdict computed with
the old ones; error verdicts are never stored (a clamd outage must not stick to a file).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from services.av.models import ScanResult


class VerdictCache:
    """A bounded LRU; thread-safe because scans finish on worker threads."""

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 0:
            raise ValueError(f"cache size must be >= 0, got {max_entries}")
        self.max_entries = max_entries
        self._data: OrderedDict[tuple[str, str], ScanResult] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha256: str, ruleset: str) -> ScanResult | None:
        with self._lock:
            result = self._data.get((sha256, ruleset))
            if result is not None:
                self._data.move_to_end((sha256, ruleset))
            return result

    def put(self, ruleset: str, result: ScanResult) -> None:
        if result.verdict == "error" or self.max_entries == 0:
            return
        key = (result.sha256, ruleset)
        with self._lock:
            self._data[key] = result
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)
