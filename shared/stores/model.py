"""Value types of the AuditStore API: the query, a page of hits, stats, bulk results, cursors.

The cursor is the same for both backends: the sort key ``(@timestamp ms, event.id, tenant.id)`` of
the last hit, which is what OpenSearch's ``search_after`` takes and what the SQLite keyset
predicate compares against. ``event.id`` is the tiebreaker Elastic/OpenSearch recommend for
``search_after`` (a unique keyword), and ``tenant.id`` breaks the (theoretical) tie of two tenants
emitting the same UUID in the same millisecond, so pages never skip or repeat a hit.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from shared.events import ACTIONS, MODULES
from shared.stores.errors import QueryParamError
from shared.stores.freetext import parse_free_text
from shared.stores.netaddr import normalise_ip_filter

MAX_SIZE = 1000
SORTS = ("desc", "asc")
# Triage status of an alert. An alert nobody has looked at yet is "open" (stores treat a missing
# ``triage`` object as open), as in EveBox's inbox / escalated / archived workflow.
TRIAGE_STATUSES = ("open", "acknowledged", "closed")
_CURSOR_VERSION = 1
_ID_FILTER = re.compile(r"^[A-Za-z0-9._:@/-]{1,128}$")


@dataclass(frozen=True, slots=True)
class SortKey:
    ts_ms: int
    event_id: str
    tenant_id: str

    def as_list(self) -> list[Any]:
        return [self.ts_ms, self.event_id, self.tenant_id]


def encode_cursor(key: SortKey, sort: str) -> str:
    raw = json.dumps([_CURSOR_VERSION, sort, *key.as_list()], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> SortKey:
    """Decode a cursor issued by ``search``; a cursor from another sort order is rejected
    because resuming a descending walk with an ascending query would silently skip hits."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, issued_sort, ts_ms, event_id, tenant_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise QueryParamError("cursor", "malformed cursor; pass back next_cursor unchanged") from None
    if (version != _CURSOR_VERSION or not isinstance(ts_ms, int) or isinstance(ts_ms, bool)
            or not isinstance(event_id, str) or not isinstance(tenant_id, str)):
        raise QueryParamError("cursor", "malformed cursor; pass back next_cursor unchanged")
    if issued_sort != sort:
        raise QueryParamError("cursor", f"cursor was issued for sort={issued_sort}, not sort={sort}")
    return SortKey(ts_ms, event_id, tenant_id)


def to_ms(value: datetime) -> int:
    """Epoch milliseconds, floored: OpenSearch's ``date`` type keeps milliseconds only, and both
    backends must agree on the sort key."""
    delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def ms_to_rfc3339(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AlertQuery:
    """What to search. ``tenant_ids=None`` means every tenant (provider-admin only; the API decides
    who may pass it); ``()`` matches nothing. Time range is half-open: ``time_from <= t < time_to``.

    ``source_ip`` is an address or a CIDR block (``10.0.0.0/8``), normalised by ``parse_alert_query``.
    ``q`` is free text: words and "quoted phrases", all required, case-insensitive.
    """

    tenant_ids: tuple[str, ...] | None
    q: str | None = None
    time_from: datetime | None = None
    time_to: datetime | None = None
    module: str | None = None
    action: str | None = None
    rule_id: str | None = None
    source_ip: str | None = None
    severity: int | None = None
    vpc_id: str | None = None
    service_name: str | None = None
    trace_id: str | None = None
    flow_id: str | None = None
    status: str | None = None
    size: int = 50
    cursor: str | None = None
    sort: str = "desc"
    # False skips counting every match: an export pages through millions of hits and needs no
    # total, and counting them once per page would cost more than reading the page.
    with_total: bool = True
    _terms: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)
    _after: SortKey | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Validated here as well as in parse_alert_query so that code building an AlertQuery
        # directly (the indexer, tests, admin tools) gets the same guarantees as HTTP callers.
        if self.tenant_ids is not None:
            if isinstance(self.tenant_ids, str) or not all(isinstance(t, str) for t in self.tenant_ids):
                raise TypeError("tenant_ids must be a tuple of tenant id strings or None")
            object.__setattr__(self, "tenant_ids", tuple(self.tenant_ids))
        if not isinstance(self.size, int) or isinstance(self.size, bool) or not 1 <= self.size <= MAX_SIZE:
            raise QueryParamError("size", f"must be an integer from 1 to {MAX_SIZE}, got {self.size!r}")
        if self.sort not in SORTS:
            raise QueryParamError("sort", f"must be asc or desc, got {self.sort!r}")
        for name, value in (("from", self.time_from), ("to", self.time_to)):
            if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
                raise QueryParamError(name, "must be a timezone-aware datetime")
        if self.time_from is not None and self.time_to is not None and self.time_from > self.time_to:
            raise QueryParamError("from", "is after 'to'")
        if self.module is not None and self.module not in MODULES:
            raise QueryParamError("module", f"must be one of {', '.join(MODULES)}, got {self.module!r}")
        if self.action is not None and self.action not in ACTIONS:
            raise QueryParamError("action", f"must be one of {', '.join(ACTIONS)}, got {self.action!r}")
        if self.severity is not None and (not isinstance(self.severity, int) or isinstance(self.severity, bool)
                                          or not 1 <= self.severity <= 4):
            raise QueryParamError("severity", f"must be an integer from 1 to 4, got {self.severity!r}")
        if self.rule_id is not None and not 1 <= len(self.rule_id) <= 64:
            raise QueryParamError("rule_id", "must be 1 to 64 characters")
        if self.status is not None and self.status not in TRIAGE_STATUSES:
            raise QueryParamError("status", f"must be one of {', '.join(TRIAGE_STATUSES)}, got {self.status!r}")
        if self.flow_id is not None and not 1 <= len(self.flow_id) <= 64:
            raise QueryParamError("flow_id", "must be 1 to 64 characters")
        for name in ("vpc_id", "trace_id"):
            value = getattr(self, name)
            if value is not None and not _ID_FILTER.match(value):
                raise QueryParamError(name, "must be 1 to 128 characters of [A-Za-z0-9._:@/-]")
        # OpenSearch indexes service.name as a keyword up to 1024 characters (ignore_above).
        if self.service_name is not None and not 1 <= len(self.service_name) <= 1024:
            raise QueryParamError("service_name", "must be 1 to 1024 characters")
        if self.source_ip is not None:
            object.__setattr__(self, "source_ip", normalise_ip_filter(self.source_ip))
        if self.q is not None:
            object.__setattr__(self, "_terms", parse_free_text(self.q))
        if self.cursor is not None:
            object.__setattr__(self, "_after", decode_cursor(self.cursor, self.sort))

    @property
    def terms(self) -> tuple[str, ...]:
        """Free-text terms (words or phrases), each to be matched as a phrase."""
        return self._terms

    @property
    def after(self) -> SortKey | None:
        """Sort key of the last hit of the previous page, if resuming."""
        return self._after

    @property
    def from_ms(self) -> int | None:
        return None if self.time_from is None else to_ms(self.time_from)

    @property
    def until_ms(self) -> int | None:
        return None if self.time_to is None else to_ms(self.time_to)


@dataclass(frozen=True, slots=True)
class SearchPage:
    """``total`` is None when the query asked for no count (``with_total=False``)."""

    hits: list[dict[str, Any]]
    total: int | None
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class AlertStats:
    """``histogram`` buckets start at multiples of ``interval`` since the epoch (UTC), as OpenSearch's
    ``date_histogram`` with a ``fixed_interval`` does; empty buckets inside the range are included."""

    total: int
    top_rules: list[dict[str, Any]]
    top_sources: list[dict[str, Any]]
    histogram: list[dict[str, Any]]
    interval: str
    top_targets: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class BulkResult:
    """``failed`` lists documents the store rejected for good (malformed); transient failures raise
    :class:`~shared.stores.errors.StoreUnavailable` instead so the caller retries the whole batch."""

    indexed: int = 0
    duplicates: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
