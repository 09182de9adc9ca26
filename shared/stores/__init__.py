"""Audit stores: where alerts are kept and searched (SQLite by default, OpenSearch at scale).

    store = open_store("sqlite:///var/lib/secchain/audit.db")
    store.ensure_ready()
    store.bulk_index([alert.to_dict() for alert in batch])
    page = store.search(parse_alert_query(request.query, tenant_ids=("dept-a",)))
"""

from __future__ import annotations

from shared.stores.base import AuditStore
from shared.stores.errors import QueryParamError, StoreError, StoreUnavailable
from shared.stores.model import AlertQuery, AlertStats, BulkResult, SearchPage
from shared.stores.params import StatsRequest, parse_alert_query, parse_stats_query
from shared.stores.urls import open_store

__all__ = [
    "AlertQuery",
    "AlertStats",
    "AuditStore",
    "BulkResult",
    "QueryParamError",
    "SearchPage",
    "StatsRequest",
    "StoreError",
    "StoreUnavailable",
    "open_store",
    "parse_alert_query",
    "parse_stats_query",
]
