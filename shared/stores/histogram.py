"""Histogram intervals and buckets, shared so that both backends bucket identically.

Buckets follow OpenSearch's ``date_histogram`` with a ``fixed_interval`` and no offset: a bucket
starts at a multiple of the interval since the epoch (UTC), and with ``min_doc_count: 0`` plus
``extended_bounds`` empty buckets are returned across the whole requested range. Calendar
intervals (months, DST-aware days) are not offered: a SOC timeline wants equal-width buckets.
"""

from __future__ import annotations

import re

from shared.stores.errors import QueryParamError
from shared.stores.model import ms_to_rfc3339

_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_INTERVAL = re.compile(r"^([1-9][0-9]{0,6})(ms|s|m|h|d)$")
# Ladder for the automatic interval: round durations an analyst reads at a glance.
_LADDER = ("1s", "5s", "10s", "30s", "1m", "5m", "10m", "30m", "1h", "3h", "6h", "12h", "1d", "7d", "30d")
TARGET_BUCKETS = 100
MAX_BUCKETS = 5000


def interval_ms(interval: str) -> int:
    match = _INTERVAL.match(interval)
    if not match:
        raise QueryParamError("interval", f"expected a number and a unit (ms, s, m, h, d) such as 5m, got {interval!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def auto_interval(span_ms: int) -> str:
    """The smallest ladder step giving at most TARGET_BUCKETS buckets over ``span_ms``."""
    for step in _LADDER:
        if span_ms // interval_ms(step) < TARGET_BUCKETS:
            return step
    return _LADDER[-1]


def bucket_start(ts_ms: int, step_ms: int) -> int:
    return ts_ms - ts_ms % step_ms


def check_bucket_count(first_ms: int, last_ms: int, step_ms: int) -> None:
    count = (bucket_start(last_ms, step_ms) - bucket_start(first_ms, step_ms)) // step_ms + 1
    if count > MAX_BUCKETS:
        raise QueryParamError("interval", f"gives {count} buckets over this time range; the limit is {MAX_BUCKETS}")


def fill(counts: dict[int, int], first_ms: int, last_ms: int, step_ms: int) -> list[dict[str, object]]:
    """Buckets from the one holding ``first_ms`` to the one holding ``last_ms``, zeros included."""
    out: list[dict[str, object]] = []
    start = bucket_start(first_ms, step_ms)
    while start <= last_ms:
        out.append({"time": ms_to_rfc3339(start), "count": counts.get(start, 0)})
        start += step_ms
    return out


def plan(from_ms: int | None, until_ms: int | None, data_min: int | None, data_max: int | None,
         interval: str | None, now_ms: int) -> tuple[str, int, int, int] | None:
    """``(interval, step_ms, first_ms, last_ms)`` for a stats request, or None when there is
    nothing to draw. The range is the query's ``[from, to)``; an open end is closed by the
    matching data, and an open ``to`` after a ``from`` reaches at least now ("the last 15
    minutes" shows empty buckets up to now)."""
    first = from_ms if from_ms is not None else data_min
    if until_ms is not None:
        last: int | None = until_ms - 1
    elif from_ms is not None:
        last = max(now_ms, data_max if data_max is not None else now_ms)
    else:
        last = data_max
    if first is None or last is None or last < first:
        return None
    name = interval if interval is not None else auto_interval(last - first)
    step = interval_ms(name)
    check_bucket_count(first, last, step)
    return name, step, first, last


def needs_data_bounds(from_ms: int | None, until_ms: int | None) -> bool:
    return from_ms is None or until_ms is None
