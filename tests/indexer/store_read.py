"""Test helpers: read what the audit store holds."""

from __future__ import annotations

import time
from collections import Counter

from shared.stores import AlertQuery, AuditStore


def stored_event_ids(store: AuditStore) -> Counter[str]:
    """Every stored alert's event.id with how many documents carry it (all pages)."""
    store.refresh()
    ids: Counter[str] = Counter()
    cursor = None
    while True:
        page = store.search(AlertQuery(tenant_ids=None, size=1000, cursor=cursor))
        ids.update(hit["event"]["id"] for hit in page.hits)
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def wait_for_total(store: AuditStore, expect: int, timeout: float = 40.0) -> int:
    """Poll until the store holds ``expect`` alerts (or ``timeout``); returns the last total seen."""
    deadline = time.monotonic() + timeout
    total = -1
    while time.monotonic() < deadline:
        store.refresh()
        total = store.search(AlertQuery(tenant_ids=None, size=1)).total
        if total >= expect:
            return total
        time.sleep(0.1)
    return total
