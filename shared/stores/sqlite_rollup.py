"""Rollups of the SQLite store: alert counts per minute and per hour, kept exact in the write
transaction, so the overview and the list's total over a week read thousands of rows, not millions.

Five tables, each a count ``n`` per key::

    alerts_by_minute      (tenant_id, bucket, status)                -- total and time histogram
    alerts_by_rule        (tenant_id, bucket, status, rule_id)       -- hourly: top rules
    alerts_by_source_day  (tenant_id, bucket, status, source_ip_key) -- daily: top sources
    alerts_by_source      (tenant_id, bucket, status, source_ip_key) -- hourly: their edges
    alerts_by_target      (tenant_id, bucket, status, service_name)  -- hourly: top targets

``bucket`` is the epoch milliseconds of the minute, hour or day (UTC) an alert falls in. Sources
have a daily level because there are many of them (a scanner rotating addresses): a week is
about 40 times fewer daily rows than hourly ones; rules and targets are few per hour already. The triage
status is part of every key because the console's inbox is ``status=open``: an analyst closing an
alert moves one count from ``open`` to ``closed`` in each table. Every write path keeps them
exact: ``bulk_index`` counts only rows it really inserted (a redelivered event id adds nothing),
retention subtracts exactly the rows it deletes (whatever its tenant or VPC scope), and a count
that reaches zero is deleted, so the tables never hold more keys than the alerts do.

A query may use them when it filters on nothing but tenants, time and status (any other filter
needs the rows). Its ``[from, to)`` range is cut at the rollup's boundaries: whole buckets come
from the coarsest level, the partial buckets at the two edges from the next level, and what is
left (under a minute or an hour at each end) is counted from the alerts, so the answer equals a scan to the alert (``tests/stores/test_sqlite_rollups.py``
proves it against the scan and a brute-force model). This is what OpenSearch users do with
rollup jobs / transforms, and what Suricata users do with pre-aggregated EVE stats, minus their
staleness: here the rollup commits with the alerts it counts.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.stores.model import TRIAGE_STATUSES, AlertQuery

MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000
# Filters a rollup can answer: everything else in AlertQuery must be unset.
_OTHER_FILTERS = ("module", "action", "rule_id", "source_ip", "severity", "vpc_id", "service_name", "trace_id",
                  "flow_id")


@dataclass(frozen=True, slots=True)
class Level:
    table: str
    column: str | None  # None: counts only (no facet column)
    step: int


@dataclass(frozen=True, slots=True)
class Facet:
    column: str | None
    levels: tuple[Level, ...]  # coarsest first
    many: bool = False  # values too many to sum them all per query: top-k with bounds (``top``)


def _facet(column: str | None, *levels: tuple[str, int], many: bool = False) -> Facet:
    return Facet(column, tuple(Level(table, column, step) for table, step in levels), many)


COUNTS = _facet(None, ("alerts_by_minute", MINUTE))
RULES = _facet("rule_id", ("alerts_by_rule", HOUR))
SOURCES = _facet("source_ip_key", ("alerts_by_source_day", DAY), ("alerts_by_source", HOUR), many=True)
TARGETS = _facet("service_name", ("alerts_by_target", HOUR))
LEVELS = tuple(level for facet in (COUNTS, RULES, SOURCES, TARGETS) for level in facet.levels)
# Position of each facet's column in a row given to ``apply``: (tenant_id, ts, status, rule_id,
# source_ip_key, service_name), the order of ``ROW_COLUMNS``.
ROW_COLUMNS = "tenant_id, ts, triage_status, rule_id, source_ip_key, service_name"
_ROW_INDEX = {None: None, "rule_id": 3, "source_ip_key": 4, "service_name": 5}

_TYPES = {"rule_id": "TEXT", "source_ip_key": "BLOB", "service_name": "TEXT"}
SCHEMA = "".join(
    f"CREATE TABLE IF NOT EXISTS {f.table} (tenant_id TEXT NOT NULL, bucket INTEGER NOT NULL,"
    f" status TEXT NOT NULL, {f'{f.column} {_TYPES[f.column]} NOT NULL, ' if f.column else ''}n INTEGER NOT NULL,"
    f" PRIMARY KEY (tenant_id, bucket, status{', ' + f.column if f.column else ''})) WITHOUT ROWID;\n"
    for f in LEVELS) + "".join(
    # For facets with many values: each bucket's largest counts first, and one value's buckets.
    f"CREATE INDEX IF NOT EXISTS {f.table}_by_n ON {f.table} (tenant_id, bucket, status, n);\n"
    f"CREATE INDEX IF NOT EXISTS {f.table}_by_value ON {f.table} (tenant_id, {f.column}, bucket);\n"
    for f in SOURCES.levels)
# Top-k with bounds: rows read per bucket at first, and the most lists it will read before
# summing everything instead.
_TOPK_FIRST = 64
_TOPK_MAX_LISTS = 2000
_IN_CHUNK = 500


def bucket_of(ts_ms: int, step: int) -> int:
    return ts_ms - ts_ms % step  # Python's % floors, so pre-1970 instants bucket correctly too


def _key_columns(f: Level) -> list[str]:
    return ["tenant_id", "bucket", "status", *([f.column] if f.column else [])]


def apply(conn: sqlite3.Connection, rows: Iterable[Sequence[Any]], sign: int) -> None:
    """Add (``sign`` 1) or subtract (-1) ``rows`` (tuples in ``ROW_COLUMNS`` order) to every
    rollup, inside the caller's write transaction."""
    counters: dict[str, Counter[tuple[Any, ...]]] = {f.table: Counter() for f in LEVELS}
    for row in rows:
        tenant_id, ts, status = row[0], row[1], row[2]
        for f in LEVELS:
            index = _ROW_INDEX[f.column]
            if index is None:
                counters[f.table][(tenant_id, bucket_of(ts, f.step), status)] += 1
            elif row[index] is not None:
                counters[f.table][(tenant_id, bucket_of(ts, f.step), status, row[index])] += 1
    for f in LEVELS:
        counter = counters[f.table]
        if not counter:
            continue
        keys = _key_columns(f)
        conn.executemany(
            f"INSERT INTO {f.table} ({', '.join(keys)}, n) VALUES ({', '.join('?' * (len(keys) + 1))})"
            f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET n = n + excluded.n",
            [(*key, sign * n) for key, n in counter.items()])
        if sign < 0:
            conn.executemany(f"DELETE FROM {f.table} WHERE {' AND '.join(f'{k} = ?' for k in keys)} AND n <= 0",
                             list(counter))


def rebuild(conn: sqlite3.Connection) -> None:
    """Recompute every rollup from the alerts (schema upgrade; repair)."""
    for f in LEVELS:
        # ts - ((ts % step) + step) % step floors like Python for negative instants; SQLite's %
        # truncates toward zero.
        bucket = f"ts - ((ts % {f.step}) + {f.step}) % {f.step}"
        extra = f", {f.column}" if f.column else ""
        where = f"WHERE {f.column} IS NOT NULL" if f.column else ""
        conn.execute(f"DELETE FROM {f.table}")
        conn.execute(f"INSERT INTO {f.table} (tenant_id, bucket, status{extra}, n)"
                     f" SELECT tenant_id, {bucket} AS b, triage_status{extra}, COUNT(*) FROM alerts {where}"
                     f" GROUP BY tenant_id, b, triage_status{extra}")


def usable(query: AlertQuery) -> bool:
    """True if the rollups can answer ``query`` (only tenant, time and status filters)."""
    return not query.terms and all(getattr(query, name) is None for name in _OTHER_FILTERS)


@dataclass(frozen=True, slots=True)
class Split:
    """``[from, until)`` cut at multiples of ``step``: ``inner`` (bucket range, None ends open,
    or None for no whole bucket) and the ``edges`` left to scan (ms ranges, None ends open)."""

    inner: tuple[int | None, int | None] | None
    edges: tuple[tuple[int | None, int | None], ...]


def pieces(from_ms: int | None, until_ms: int | None, levels: Sequence[Level]
           ) -> list[tuple[Level | None, int | None, int | None]]:
    """``[from, until)`` as (level, lo, hi) pieces: whole buckets of the coarsest level, their
    edges cut at the next level, and so on; level None is a range of alerts to scan."""
    if not levels:
        return [(None, from_ms, until_ms)]
    parts = split(from_ms, until_ms, levels[0].step)
    out: list[tuple[Level | None, int | None, int | None]] = []
    if parts.inner is not None:
        out.append((levels[0], *parts.inner))
    for lo, hi in parts.edges:
        out += pieces(lo, hi, levels[1:])
    return out


def split(from_ms: int | None, until_ms: int | None, step: int) -> Split:
    lo = None if from_ms is None else -(-from_ms // step) * step  # ceil to the step
    hi = None if until_ms is None else until_ms // step * step
    if lo is not None and hi is not None and lo >= hi:
        return Split(None, ((from_ms, until_ms),) if from_ms < until_ms else ())
    edges = []
    if from_ms is not None and lo is not None and from_ms < lo:
        edges.append((from_ms, lo))
    if until_ms is not None and hi is not None and hi < until_ms:
        edges.append((hi, until_ms))
    return Split((lo, hi), tuple(edges))


class RollupReader:
    """Answers for one eligible query inside one read transaction (one snapshot, so the rollup
    and the edge scans agree)."""

    def __init__(self, conn: sqlite3.Connection, query: AlertQuery) -> None:
        self.conn = conn
        self.from_ms = query.from_ms
        self.until_ms = query.until_ms
        self.status = query.status
        if query.tenant_ids is None:
            # The tables lead with tenant_id; naming the tenants turns "every tenant" into a few
            # range scans instead of a scan of the whole table.
            self.tenants = self._all_tenants()
        else:
            self.tenants = tuple(query.tenant_ids)

    def _all_tenants(self) -> tuple[str, ...]:
        tenants: list[str] = []
        while True:
            row = self.conn.execute("SELECT min(tenant_id) FROM alerts_by_minute WHERE tenant_id > ?",
                                    (tenants[-1] if tenants else "",)).fetchone()
            if row[0] is None:
                return tuple(tenants)
            tenants.append(row[0])

    def _rollup_where(self, lo: int | None, hi: int | None) -> tuple[str, list[Any]]:
        where = [f"tenant_id IN ({','.join('?' * len(self.tenants))})"]
        args: list[Any] = list(self.tenants)
        if lo is not None:
            where.append("bucket >= ?")
            args.append(lo)
        if hi is not None:
            where.append("bucket < ?")
            args.append(hi)
        if self.status is not None:
            where.append("status = ?")
            args.append(self.status)
        return " AND ".join(where), args

    def _alerts_where(self, lo: int | None, hi: int | None) -> tuple[str, list[Any]]:
        where = [f"tenant_id IN ({','.join('?' * len(self.tenants))})"]
        args: list[Any] = list(self.tenants)
        if lo is not None:
            where.append("ts >= ?")
            args.append(lo)
        if hi is not None:
            where.append("ts < ?")
            args.append(hi)
        if self.status is not None:
            where.append("triage_status = ?")
            args.append(self.status)
        return " AND ".join(where), args

    def total(self) -> int:
        return sum(n for _, n in self._counts(COUNTS, None, []))

    def _counts(self, facet: Facet, group: str | None, group_args: list[Any]) -> list[tuple[Any, int]]:
        """(group value, count) rows from every piece of the range: ``group`` is an SQL
        expression over ``bucket`` (rollups) or ``ts`` (alerts) written with ``{t}``, or a facet
        column; None counts everything as one group."""
        if not self.tenants:
            return []
        rows: list[tuple[Any, int]] = []
        for level, lo, hi in pieces(self.from_ms, self.until_ms, facet.levels):
            if level is not None:
                where, args = self._rollup_where(lo, hi)
                table, count, t = level.table, "sum(n)", "bucket"
            else:
                where, args = self._alerts_where(lo, hi)
                table, count, t = "alerts", "count(*)", "ts"
                if facet.column is not None:
                    where += f" AND {facet.column} IS NOT NULL"
            if group is None:
                rows += self.conn.execute(f"SELECT NULL, {count} FROM {table} WHERE {where}", args).fetchall()
            else:
                expr = group.format(t=t)
                rows += self.conn.execute(f"SELECT {expr} AS g, {count} FROM {table} WHERE {where} GROUP BY g",
                                          [*group_args, *args]).fetchall()
        return [(g, n or 0) for g, n in rows]

    def bounds(self) -> tuple[int | None, int | None]:
        """(min, max) timestamp of the matching alerts: the first and last non-empty minute of
        the rollup, refined to the millisecond from the alerts of that one minute."""
        if not self.tenants:
            return None, None
        where, args = self._rollup_where(None if self.from_ms is None else bucket_of(self.from_ms, MINUTE),
                                         self.until_ms)
        low, high = self.conn.execute(f"SELECT min(bucket), max(bucket) FROM alerts_by_minute WHERE {where}",
                                      args).fetchone()
        if low is None:
            return None, None
        # The edge minute may hold only alerts outside [from, to); then there is none inside on
        # that side at all (it is the extreme minute), and the refinement returns None.
        lo_where, lo_args = self._alerts_where(*self._clip(low))
        hi_where, hi_args = self._alerts_where(*self._clip(high))
        data_min = self.conn.execute(f"SELECT min(ts) FROM alerts WHERE {lo_where}", lo_args).fetchone()[0]
        data_max = self.conn.execute(f"SELECT max(ts) FROM alerts WHERE {hi_where}", hi_args).fetchone()[0]
        return data_min, data_max

    def _clip(self, minute: int) -> tuple[int, int]:
        lo, hi = minute, minute + MINUTE
        if self.from_ms is not None:
            lo = max(lo, self.from_ms)
        if self.until_ms is not None:
            hi = min(hi, self.until_ms)
        return lo, hi

    def histogram(self, step: int) -> dict[int, int]:
        """Counts per histogram bucket of ``step`` ms (a multiple of a minute)."""
        assert step % MINUTE == 0
        counts: Counter[int] = Counter()
        for bucket, n in self._counts(COUNTS, "{t} - ({t} % ?)", [step]):
            counts[bucket] += n
        return dict(counts)

    def top(self, facet: Facet, size: int) -> list[tuple[Any, int]]:
        """The ``size`` largest (value, count) of ``facet``, ties by value ascending (SQLite's
        order for TEXT and BLOB, which the scan path uses too)."""
        assert facet.column is not None
        if facet.many and self.tenants:
            found = self._top_bounded(facet, size)
            if found is not None:
                return found
        counts: Counter[Any] = Counter()
        for value, n in self._counts(facet, facet.column, []):
            counts[value] += n
        ranked = sorted(((value, n) for value, n in counts.items() if n > 0), key=lambda item: (-item[1], item[0]))
        return ranked[:size]

    def _top_bounded(self, facet: Facet, size: int) -> list[tuple[Any, int]] | None:
        """Exact top ``size`` without summing every value: Fagin's threshold idea over the
        rollup's buckets. A week has some 20,000 sources per tenant, but a few scanners make most
        of the noise, so each bucket's largest ``m`` counts name every contender:

        1. read the ``m`` largest counts of every (tenant, bucket, status) list in the range,
           and every value of the partial edges (a scan of under an hour of alerts each side);
        2. sum exactly, over the whole range, each value seen;
        3. a value never seen has at most ``bound`` = the sum of each full list's ``m``-th count.
           If the ``size``-th exact sum beats ``bound``, no unseen value can enter (or tie into)
           the top: done. Otherwise read deeper (``m`` x 8), and past a limit sum everything.

        Returns None when summing everything is the cheaper way (too many lists)."""
        column = facet.column
        assert column is not None
        parts = pieces(self.from_ms, self.until_ms, facet.levels)
        lists: list[tuple[Level, str, int, str]] = []
        edge_counts: Counter[Any] = Counter()
        statuses = (self.status,) if self.status is not None else TRIAGE_STATUSES
        for level, lo, hi in parts:
            if level is None:
                where, args = self._alerts_where(lo, hi)
                edge_counts.update(dict(self.conn.execute(
                    f"SELECT {column}, count(*) FROM alerts WHERE {where} AND {column} IS NOT NULL"
                    f" GROUP BY {column}", args)))
                continue
            for tenant in self.tenants:
                first, last = self.conn.execute(
                    f"SELECT min(bucket), max(bucket) FROM {level.table} WHERE tenant_id = ?"
                    f" AND bucket >= ? AND bucket < ?",
                    (tenant, -2**62 if lo is None else lo, 2**62 if hi is None else hi)).fetchone()
                if first is None:
                    continue
                for bucket in range(first, last + 1, level.step):
                    lists += [(level, tenant, bucket, status) for status in statuses]
                if len(lists) > _TOPK_MAX_LISTS:
                    return None
        depth = _TOPK_FIRST
        while depth <= 8 * 8 * _TOPK_FIRST:
            seen: set[Any] = set()
            bound = 0
            for level, tenant, bucket, status in lists:
                rows = self.conn.execute(
                    f"SELECT {column}, n FROM {level.table} INDEXED BY {level.table}_by_n"
                    f" WHERE tenant_id = ? AND bucket = ? AND status = ? ORDER BY n DESC LIMIT ?",
                    (tenant, bucket, status, depth)).fetchall()
                seen.update(value for value, _ in rows)
                if len(rows) == depth:
                    bound += rows[-1][1]
            totals = self._sum_values(facet, parts, seen)
            totals.update({v: n for v, n in edge_counts.items() if v in seen})
            ranked = sorted(totals.values(), reverse=True)
            threshold = ranked[size - 1] if len(ranked) >= size else 0
            # A value seen only in the edges has at most its edge count plus ``bound`` in the
            # rollup: only those that could reach the threshold need summing.
            edge_only = {v for v, n in edge_counts.items() if v not in seen and n + bound >= threshold}
            totals.update(self._sum_values(facet, parts, edge_only))
            totals.update({v: edge_counts[v] for v in edge_only})
            ranked_items = sorted(((v, n) for v, n in totals.items() if n > 0), key=lambda item: (-item[1], item[0]))
            if bound == 0 or (len(ranked_items) >= size and ranked_items[size - 1][1] > bound):
                return ranked_items[:size]
            depth *= 8
        return None

    def _sum_values(self, facet: Facet, parts: list[tuple[Level | None, int | None, int | None]],
                    values: set[Any]) -> Counter[Any]:
        """Exact rollup sums over the range's rollup pieces for each of ``values``."""
        column = facet.column
        totals: Counter[Any] = Counter()
        ordered = sorted(values)
        for level, lo, hi in parts:
            if level is None:
                continue
            where, args = self._rollup_where(lo, hi)
            for start in range(0, len(ordered), _IN_CHUNK):
                chunk = ordered[start:start + _IN_CHUNK]
                totals.update(dict(self.conn.execute(
                    f"SELECT {column}, sum(n) FROM {level.table} INDEXED BY {level.table}_by_value"
                    f" WHERE {where} AND {column} IN ({','.join('?' * len(chunk))}) GROUP BY {column}",
                    [*args, *chunk])))
        return totals
