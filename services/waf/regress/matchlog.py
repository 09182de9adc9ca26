"""Reads the WAF's match log (``--match-log``): one JSON line per request, keyed by request id.

The WAF writes the line when its handler finishes; for a proxied response that is just after the
last byte reached the client, so a reader that has the response may still have to wait a moment
for the line. :meth:`MatchLog.wait_for` polls the file from where it last stopped (lines of
several workers are whole: each is one O_APPEND write).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class MatchEntry:
    request_id: str
    status: int | None
    blocked: bool
    rule_ids: tuple[int, ...]
    anomaly_score: int | None


class MatchLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self._entries: dict[str, MatchEntry] = {}
        self._lock = threading.Lock()  # runner threads share one reader

    def _poll(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                continue  # a foreign line in the file; the WAF writes only JSON objects
            rid = doc.get("request_id")
            if isinstance(rid, str):
                self._entries[rid] = MatchEntry(
                    request_id=rid, status=doc.get("status"), blocked=bool(doc.get("blocked")),
                    # go-ftw sees only rules that log; prefer that list when the WAF writes it.
                    rule_ids=tuple(int(i) for i in (doc.get("logged_rule_ids", doc.get("rule_ids")) or ())),
                    anomaly_score=doc.get("anomaly_score"))

    def wait_for(self, request_id: str, timeout: float = 3.0) -> MatchEntry | None:
        """The entry for ``request_id``, or None if the WAF wrote none within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            with self._lock:
                entry = self._entries.pop(request_id, None)
                if entry is None:
                    self._poll()
                    entry = self._entries.pop(request_id, None)
            if entry is not None or time.monotonic() >= deadline:
                return entry
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
