"""Audit stores: where alerts are kept and searched (SQLite by default, OpenSearch at scale).

    store = open_store("sqlite:///var/lib/secchain/audit.db")
    store.ensure_ready()
    store.bulk_index([alert.to_dict() for alert in batch])
    page = store.search(parse_alert_query(request.query, tenant_ids=("dept-a",)))
"""

from __future__ import annotations

from shared.stores.base import AuditStore
from shared.stores.errors import QueryParamError, StoreError, StoreUnavailable
from shared.stores.groups import AlertGroups, GroupField
from shared.stores.model import TRIAGE_STATUSES, AlertQuery, AlertStats, BulkResult, SearchPage
from shared.stores.params import (ExportRequest, GroupsRequest, StatsRequest, parse_alert_query, parse_export_query,
                                  parse_groups_query, parse_stats_query)
from shared.stores.triage import TriageChange
from shared.stores.urls import open_store

__all__ = [
    "TRIAGE_STATUSES",
    "AlertGroups",
    "AlertQuery",
    "AlertStats",
    "AuditStore",
    "BulkResult",
    "ExportRequest",
    "GroupField",
    "GroupsRequest",
    "QueryParamError",
    "SearchPage",
    "StatsRequest",
    "StoreError",
    "StoreUnavailable",
    "TriageChange",
    "open_store",
    "parse_alert_query",
    "parse_export_query",
    "parse_groups_query",
    "parse_stats_query",
]
