"""HTTP query parameters of ``GET /v1/alerts`` and ``GET /v1/alerts/stats`` -> :class:`AlertQuery`.

Every error is a :class:`QueryParamError` naming the parameter, so the API can answer 400 with a
message the analyst can act on. Times are RFC 3339 with an offset (``2026-11-27T17:00:00Z``) or
relative to now in the date-math style of OpenSearch Dashboards (``now``, ``now-15m``, ``now-7d``,
``now+1h``; units s, m, h, d, w). In a query string an unencoded ``+`` arrives as a space, so
``now 1h`` and ``...T10:00:00 02:00`` are read as the ``+`` their author typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.stores.errors import QueryParamError
from shared.stores.groups import MAX_GROUPS, GroupField, parse_group_by
from shared.stores.histogram import interval_ms
from shared.stores.model import MAX_SIZE, AlertQuery

SEARCH_PARAMS = frozenset({"q", "from", "to", "module", "action", "rule_id", "source_ip", "severity", "vpc_id",
                           "service_name", "trace_id", "flow_id", "status", "size", "cursor", "sort"})
FILTER_PARAMS = SEARCH_PARAMS - {"size", "cursor", "sort"}
STATS_PARAMS = FILTER_PARAMS | {"interval", "top"}
GROUPS_PARAMS = FILTER_PARAMS | {"by", "size"}
EXPORT_PARAMS = FILTER_PARAMS | {"format", "sort"}
EXPORT_FORMATS = ("csv", "ndjson")
MAX_TOP = 100
_RELATIVE = re.compile(r"^now(?:([+-])([0-9]{1,6})([smhdw]))?$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SPACE_OFFSET = re.compile(r"^(.*T[0-9:.]+) ([0-9]{2}:[0-9]{2})$")
_RFC3339 = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$")


@dataclass(frozen=True, slots=True)
class GroupsRequest:
    query: AlertQuery
    by: tuple[GroupField, ...]
    size: int = 100


@dataclass(frozen=True, slots=True)
class ExportRequest:
    query: AlertQuery
    format: str


@dataclass(frozen=True, slots=True)
class StatsRequest:
    query: AlertQuery
    top: int = 10
    interval: str | None = None


def parse_time(param: str, value: str, now: datetime | None = None) -> datetime:
    text = value.strip()
    relative = _RELATIVE.match(text.replace(" ", "+"))
    if relative:
        base = now or datetime.now(timezone.utc)
        sign, amount, unit = relative.groups()
        if sign is None:
            return base
        delta = timedelta(**{_UNIT[unit]: int(amount)})
        return base - delta if sign == "-" else base + delta
    spaced = _SPACE_OFFSET.match(text)
    if spaced:
        text = f"{spaced.group(1)}+{spaced.group(2)}"
    if not _RFC3339.match(text):
        raise QueryParamError(param, f"expected an RFC 3339 time with offset (2026-11-27T17:00:00Z) or now-15m, got {value!r}")
    try:
        parsed = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise QueryParamError(param, f"not a valid time: {exc}") from None
    return parsed.astimezone(timezone.utc)


def _int(param: str, value: str, low: int, high: int) -> int:
    if not re.fullmatch(r"[0-9]{1,7}", value.strip()):
        raise QueryParamError(param, f"expected an integer from {low} to {high}, got {value!r}")
    number = int(value)
    if not low <= number <= high:
        raise QueryParamError(param, f"expected an integer from {low} to {high}, got {number}")
    return number


def _single(params: Mapping[str, str], allowed: frozenset[str], endpoint: str) -> dict[str, str]:
    values: dict[str, str] = {}
    getall = getattr(params, "getall", None)  # aiohttp/multidict keeps repeated parameters
    for key in params:
        if key not in allowed:
            raise QueryParamError(key, f"unknown parameter for {endpoint}; expected one of {', '.join(sorted(allowed))}")
        if key in values or (getall is not None and len(getall(key)) > 1):
            raise QueryParamError(key, "given more than once")
        value = params[key]
        if not isinstance(value, str):
            raise QueryParamError(key, f"expected a string value, got {type(value).__name__}")
        values[key] = value
    return values


def _query(values: dict[str, str], tenant_ids: tuple[str, ...] | None, now: datetime | None,
           **extra: Any) -> AlertQuery:
    kwargs: dict[str, Any] = dict(extra)
    for name in ("module", "action", "rule_id", "source_ip", "vpc_id", "service_name", "trace_id", "flow_id",
                 "status", "cursor", "sort"):
        if name in values:
            if not values[name].strip():
                raise QueryParamError(name, "is empty")
            kwargs[name] = values[name].strip()
    if "q" in values and values["q"].strip():
        kwargs["q"] = values["q"]
    if "severity" in values:
        kwargs["severity"] = _int("severity", values["severity"], 1, 4)
    if "size" in values:
        kwargs["size"] = _int("size", values["size"], 1, MAX_SIZE)
    now = now or datetime.now(timezone.utc)
    if "from" in values:
        kwargs["time_from"] = parse_time("from", values["from"], now)
    if "to" in values:
        kwargs["time_to"] = parse_time("to", values["to"], now)
    return AlertQuery(tenant_ids=tenant_ids, **kwargs)


def parse_alert_query(params: Mapping[str, str], tenant_ids: tuple[str, ...] | None, *,
                      now: datetime | None = None) -> AlertQuery:
    """Parameters of ``GET /v1/alerts``. ``tenant_ids`` comes from the API key, never the request."""
    return _query(_single(params, SEARCH_PARAMS, "/v1/alerts"), tenant_ids, now)


def parse_stats_query(params: Mapping[str, str], tenant_ids: tuple[str, ...] | None, *,
                      now: datetime | None = None) -> StatsRequest:
    """Parameters of ``GET /v1/alerts/stats``: the search filters plus ``interval`` and ``top``."""
    values = _single(params, STATS_PARAMS, "/v1/alerts/stats")
    query = _query(values, tenant_ids, now)
    interval = values.get("interval")
    if interval is not None:
        interval = interval.strip()
        interval_ms(interval)
    top = _int("top", values["top"], 1, MAX_TOP) if "top" in values else 10
    return StatsRequest(query=query, top=top, interval=interval)


def parse_groups_query(params: Mapping[str, str], tenant_ids: tuple[str, ...] | None, *,
                       now: datetime | None = None) -> GroupsRequest:
    """Parameters of ``GET /v1/alerts/groups``: the search filters plus ``by`` (default
    ``rule,source``) and ``size`` (how many groups, largest first)."""
    values = _single(params, GROUPS_PARAMS, "/v1/alerts/groups")
    size = _int("size", values.pop("size"), 1, MAX_GROUPS) if "size" in values else 100
    by = parse_group_by(values.pop("by", "rule,source"))
    return GroupsRequest(query=_query(values, tenant_ids, now), by=by, size=size)


def parse_export_query(params: Mapping[str, str], tenant_ids: tuple[str, ...] | None, *,
                       now: datetime | None = None) -> ExportRequest:
    """Parameters of ``GET /v1/alerts/export``: the search filters, ``sort`` and ``format``
    (csv or ndjson). Relative times are resolved once, here, so a long export covers a fixed
    window instead of one that slides while it streams; a missing ``to`` is now."""
    values = _single(params, EXPORT_PARAMS, "/v1/alerts/export")
    fmt = values.pop("format", "ndjson").strip().lower()
    if fmt not in EXPORT_FORMATS:
        raise QueryParamError("format", f"must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    now = now or datetime.now(timezone.utc)
    # Without an end, an ascending export would chase alerts arriving while it streams.
    extra: dict[str, Any] = {} if "to" in values else {"time_to": now}
    query = _query(values, tenant_ids, now, size=MAX_SIZE, with_total=False, **extra)
    return ExportRequest(query=query, format=fmt)
