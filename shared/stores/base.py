"""The AuditStore interface every backend implements.

The API is synchronous on purpose: sqlite3 and opensearch-py's sync client block, and the async
services call a store through ``asyncio.to_thread``. Every backend is therefore safe to call from
several threads at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.stores.groups import AlertGroups, GroupField
from shared.stores.model import AlertQuery, AlertStats, BulkResult, SearchPage
from shared.stores.triage import TriageChange


class AuditStore(ABC):
    @abstractmethod
    def ensure_ready(self) -> None:
        """Create the schema (tables, indexes / index template); idempotent, safe at every start."""

    @abstractmethod
    def bulk_index(self, docs: Sequence[dict[str, Any]]) -> BulkResult:
        """Store alerts. Idempotent on ``(tenant.id, event.id)``: re-sending a document (a Kafka
        redelivery, a spool replay) counts it as a duplicate and never stores it twice.
        Raises StoreUnavailable when the store cannot take the batch now (retry it whole)."""

    @abstractmethod
    def search(self, query: AlertQuery) -> SearchPage:
        """Hits sorted by ``@timestamp`` then ``event.id`` then ``tenant.id`` (``query.sort``),
        ``query.size`` per page; ``next_cursor`` resumes after the last hit, None on the last page."""

    @abstractmethod
    def stats(self, query: AlertQuery, *, top: int = 10, interval: str | None = None) -> AlertStats:
        """Top rules and sources and a time histogram over the alerts matching ``query``
        (its size, cursor and sort are ignored). ``interval`` None picks one for ~100 buckets."""

    @abstractmethod
    def groups(self, query: AlertQuery, by: Sequence[GroupField], *, size: int = 100) -> AlertGroups:
        """The ``size`` largest groups of alerts matching ``query`` that share the values of ``by``,
        with count and first/last seen (see :mod:`shared.stores.groups`)."""

    @abstractmethod
    def triage(self, event_id: str, tenant_ids: tuple[str, ...] | None,
               change: TriageChange) -> dict[str, Any] | None:
        """Apply ``change`` to the alert (see :mod:`shared.stores.triage`) and return the updated
        document, visible to search on return; None if no such alert in ``tenant_ids``. Two
        concurrent changes both land in the history, neither is lost."""

    @abstractmethod
    def get(self, event_id: str, tenant_ids: tuple[str, ...] | None) -> dict[str, Any] | None:
        """The alert with this event id if it belongs to one of ``tenant_ids`` (None: any)."""

    @abstractmethod
    def delete_older_than(self, cutoff: datetime, tenant_id: str | None = None, vpc_id: str | None = None) -> int:
        """Retention: delete alerts with ``@timestamp < cutoff`` (of one tenant, or all; with
        ``vpc_id``, only that VPC's alerts of that tenant); returns how many were deleted."""

    @abstractmethod
    def refresh(self) -> None:
        """Make every acknowledged write visible to search now."""

    @abstractmethod
    def ping(self) -> bool:
        """True if the store answers; never raises (used by /readyz)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""

    def __enter__(self) -> "AuditStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
