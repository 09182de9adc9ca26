"""SQLite audit store: the single-machine default.

Layout: one ``alerts`` row per alert (the JSON document plus a column for every filter), unique on
``(tenant_id, event_id)`` so ``INSERT OR IGNORE`` makes re-delivery idempotent; an FTS5 table whose
rowid is the alert's rowid holds the free-text fields. Timestamps are epoch milliseconds.

Indexes follow the queries: every API query is tenant-scoped and time-ordered, so
``(tenant_id, ts, event_id)`` serves search, keyset pagination and retention per tenant;
``(ts, event_id, tenant_id)`` serves the provider's all-tenant view; rule and source lookups get
their own ``(tenant_id, <field>, ts)`` indexes. Pagination is by keyset on ``(ts, event_id,
tenant_id)``, which stays stable while rows are inserted (OFFSET would shift).

Counts (the overview's total, histogram and top lists, the list's total) come from per-minute,
per-hour and per-day rollup tables written in the same transaction as the alerts (see
``sqlite_rollup``) whenever a query filters on tenants, time and status only; any other filter
reads the rows.

Concurrency: WAL lets readers run beside the single writer. Connections come from a small pool
(one per concurrent caller, no thread affinity); writes in this process are serialised by a lock
so they queue here instead of spinning on SQLITE_BUSY, and ``busy_timeout`` covers other processes.
``synchronous=FULL``: the indexer commits Kafka offsets once ``bulk_index`` returns, so a committed
batch must survive a power cut, not only a process crash.
"""

from __future__ import annotations

import contextlib
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from shared.stores.base import AuditStore
from shared.stores.documents import FREE_TEXT_COLUMNS, DocumentError, event_id_of, extract
from shared.stores.errors import StoreError, StoreUnavailable
from shared.stores.groups import AlertGroups, GroupField
from shared.stores.histogram import fill, needs_data_bounds, plan
from shared.stores.model import (AlertQuery, AlertStats, BulkResult, SearchPage, SortKey, encode_cursor,
                                 ms_to_rfc3339, to_ms)
from shared.stores.triage import TriageChange, next_triage
from shared.stores.netaddr import ip_filter_range, ip_from_key
from shared.stores import sqlite_rollup as rollup

SCHEMA_VERSION = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    module TEXT NOT NULL,
    action TEXT NOT NULL,
    severity INTEGER NOT NULL,
    rule_id TEXT NOT NULL,
    rule_name TEXT,
    source_ip TEXT,
    source_ip_key BLOB,
    vpc_id TEXT,
    service_name TEXT,
    trace_id TEXT,
    flow_id TEXT,
    triage_status TEXT NOT NULL DEFAULT 'open',
    doc TEXT NOT NULL,
    UNIQUE (tenant_id, event_id)
);
CREATE INDEX IF NOT EXISTS alerts_tenant_ts ON alerts (tenant_id, ts, event_id);
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts (ts, event_id, tenant_id);
CREATE INDEX IF NOT EXISTS alerts_tenant_rule ON alerts (tenant_id, rule_id, ts);
CREATE INDEX IF NOT EXISTS alerts_tenant_source ON alerts (tenant_id, source_ip_key, ts);
CREATE INDEX IF NOT EXISTS alerts_event ON alerts (event_id);
CREATE INDEX IF NOT EXISTS alerts_trace ON alerts (trace_id) WHERE trace_id IS NOT NULL;
{v2_indexes}
{v3_indexes}
{rollups}
CREATE VIRTUAL TABLE IF NOT EXISTS alerts_fts USING fts5({columns}, tokenize = 'unicode61 remove_diacritics 2');
"""
# Version 2 (the SOC console): triage status and flow id columns, and indexes for the console's
# views: the status filter, top targets and grouping by rule and source. The two "facets" indexes
# hold every column the overview aggregates, so over a time range (one tenant's or everyone's) its
# GROUP BYs are index-only scans that never visit the table rows and their JSON documents.
_V2_COLUMNS = ("ALTER TABLE alerts ADD COLUMN flow_id TEXT",
               "ALTER TABLE alerts ADD COLUMN triage_status TEXT NOT NULL DEFAULT 'open'")
_V2_INDEXES = """
CREATE INDEX IF NOT EXISTS alerts_tenant_service ON alerts (tenant_id, service_name, ts);
CREATE INDEX IF NOT EXISTS alerts_tenant_rule_source ON alerts (tenant_id, rule_id, source_ip_key, ts);
CREATE INDEX IF NOT EXISTS alerts_flow ON alerts (flow_id) WHERE flow_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS alerts_tenant_ts_facets ON alerts (tenant_id, ts, rule_id, source_ip_key, service_name);
CREATE INDEX IF NOT EXISTS alerts_ts_facets ON alerts (ts, tenant_id, rule_id, source_ip_key, service_name);
CREATE INDEX IF NOT EXISTS alerts_rule_ts ON alerts (rule_id, ts);
"""
# Version 3: the rollups (see sqlite_rollup) and the inbox (``status=open``, newest first) in index
# order: across every tenant, and for one tenant (replacing version 2's (tenant_id, triage_status,
# ts), which left a sort of every tie on ts to do). Without them SQLite walks the time index
# skipping every closed alert, or sorts a week of open ones.
_V3_INDEXES = """
CREATE INDEX IF NOT EXISTS alerts_status_ts ON alerts (triage_status, ts, event_id, tenant_id);
CREATE INDEX IF NOT EXISTS alerts_tenant_status_ts ON alerts (tenant_id, triage_status, ts, event_id);
"""
_V3_DROPPED = ("DROP INDEX IF EXISTS alerts_tenant_status",)
_INSERT_FTS = (f"INSERT INTO alerts_fts (rowid, {', '.join(FREE_TEXT_COLUMNS)})"
               f" VALUES (?{', ?' * len(FREE_TEXT_COLUMNS)})")
_INSERT = (
    "INSERT OR IGNORE INTO alerts (tenant_id, event_id, ts, module, action, severity, rule_id, rule_name,"
    " source_ip, source_ip_key, vpc_id, service_name, trace_id, flow_id, triage_status, doc)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_EQUALITY_FILTERS = ("module", "action", "rule_id", "severity", "vpc_id", "service_name", "trace_id", "flow_id")
_DELETE_BATCH = 5000
# SQLite reports these when the database is busy, missing or out of space: transient for callers.
_TRANSIENT = ("locked", "busy", "unable to open", "disk i/o", "database or disk is full", "readonly")


def _fts_phrase(term: str) -> str:
    # An FTS5 string literal: inside double quotes nothing is syntax, a quote is doubled.
    return '"' + term.replace('"', '""') + '"'


class SqliteStore(AuditStore):
    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0, use_rollups: bool = True) -> None:
        """``use_rollups=False`` answers every read by scanning the alerts (the rollups are still
        maintained): the reference the rollup path is tested against."""
        self.path = str(path)
        self.use_rollups = use_rollups
        self._busy_timeout = busy_timeout
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed = False

    # -- connections ---------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:" and not Path(self.path).parent.is_dir():
            raise StoreUnavailable(f"SQLite store {self.path}: directory {Path(self.path).parent} does not exist")
        try:
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            # 32 MB page cache: event ids are random UUIDs, so index inserts land all over the
            # B-trees and the default 2 MB cache thrashes long before 1M rows.
            conn.execute("PRAGMA cache_size=-32768")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite store {self.path}: cannot open: {exc}") from exc
        with self._all_lock:
            self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def _connection(self, what: str) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise StoreError(f"SQLite store {self.path} is closed")
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            yield conn
        except sqlite3.Error as exc:
            message = f"SQLite store {self.path}: {what} failed: {exc}"
            if any(marker in str(exc).lower() for marker in _TRANSIENT):
                raise StoreUnavailable(message) from exc
            raise StoreError(message) from exc
        finally:
            # Whatever interrupted the work (an error, KeyboardInterrupt), a connection never goes
            # back to the pool inside a transaction.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if self._closed:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            else:
                self._idle.put(conn)

    @contextlib.contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        with self._write_lock, self._connection(what) as conn:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")

    @contextlib.contextmanager
    def _read(self, what: str) -> Iterator[sqlite3.Connection]:
        # One read transaction: in WAL mode its statements all see the same snapshot, so a page's
        # total and hits (or the parts of a stats answer) agree while the indexer keeps writing.
        with self._connection(what) as conn:
            conn.execute("BEGIN")
            yield conn
            conn.execute("COMMIT")

    # -- AuditStore ----------------------------------------------------------------------------
    def ensure_ready(self) -> None:
        with self._write("creating the schema") as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"SQLite store {self.path}: schema version {version} is newer than this "
                                 f"code ({SCHEMA_VERSION}); upgrade secchain")
            if version == 1:
                for statement in _V2_COLUMNS:
                    conn.execute(statement)
                conn.execute("UPDATE alerts SET flow_id = json_extract(doc, '$.flow.id'),"
                             " triage_status = coalesce(json_extract(doc, '$.triage.status'), 'open')")
            schema = _SCHEMA.format(columns=", ".join(FREE_TEXT_COLUMNS), v2_indexes=_V2_INDEXES,
                                    v3_indexes=_V3_INDEXES, rollups=rollup.SCHEMA)
            for statement in schema.split(";"):
                if statement.strip():
                    conn.execute(statement)
            if version < 3:
                # Upgrading a store that has alerts (a fresh one has none: this is instant).
                for statement in _V3_DROPPED:
                    conn.execute(statement)
                rollup.rebuild(conn)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def bulk_index(self, docs: Sequence[dict[str, Any]]) -> BulkResult:
        result = BulkResult()
        rows = []
        for doc in docs:
            try:
                ex = extract(doc)
                body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            except (DocumentError, TypeError, ValueError) as exc:
                result.failed.append((event_id_of(doc), str(exc)))
                continue
            rows.append((ex, body))
        if not rows:
            return result
        with self._write("bulk insert") as conn:
            inserted = []
            for ex, body in rows:
                cur = conn.execute(_INSERT, (ex.tenant_id, ex.event_id, ex.ts_ms, ex.module, ex.action, ex.severity,
                                             ex.rule_id, ex.rule_name, ex.source_ip, ex.source_ip_key, ex.vpc_id,
                                             ex.service_name, ex.trace_id, ex.flow_id, ex.triage_status, body))
                if cur.rowcount == 1:
                    conn.execute(_INSERT_FTS, (cur.lastrowid, *ex.text))
                    inserted.append((ex.tenant_id, ex.ts_ms, ex.triage_status, ex.rule_id, ex.source_ip_key,
                                     ex.service_name))
                    result.indexed += 1
                else:
                    result.duplicates += 1
            rollup.apply(conn, inserted, 1)
        return result

    def search(self, query: AlertQuery) -> SearchPage:
        if query.tenant_ids == ():
            return SearchPage(hits=[], total=0, next_cursor=None)
        where, args = self._where(query)
        direction = "DESC" if query.sort == "desc" else "ASC"
        page_where, page_args = list(where), list(args)
        if query.after is not None:
            page_where.append(f"(ts, event_id, tenant_id) {'<' if query.sort == 'desc' else '>'} (?, ?, ?)")
            page_args += query.after.as_list()
        with self._read("search") as conn:
            total = None
            if query.with_total and self._rollups_answer(query):
                total = rollup.RollupReader(conn, query).total()
            elif query.with_total:
                total = conn.execute(f"SELECT COUNT(*) FROM alerts {self._sql(where)}", args).fetchone()[0]
            rows = conn.execute(
                f"SELECT doc, ts, event_id, tenant_id FROM alerts {self._sql(page_where)}"
                f" ORDER BY ts {direction}, event_id {direction}, tenant_id {direction} LIMIT ?",
                [*page_args, query.size + 1]).fetchall()
        more = len(rows) > query.size
        rows = rows[: query.size]
        cursor = encode_cursor(SortKey(rows[-1][1], rows[-1][2], rows[-1][3]), query.sort) if more else None
        return SearchPage(hits=[json.loads(r[0]) for r in rows], total=total, next_cursor=cursor)

    def _rollups_answer(self, query: AlertQuery) -> bool:
        return self.use_rollups and rollup.usable(query)

    def stats(self, query: AlertQuery, *, top: int = 10, interval: str | None = None) -> AlertStats:
        if self._rollups_answer(query):
            return self._stats_from_rollups(query, top, interval)
        # An empty tenant list becomes SQLite's empty ``IN ()``, false for every row.
        where, args = self._where(query)
        sql_where = self._sql(where)
        with self._read("stats") as conn:
            total, data_min, data_max = conn.execute(
                f"SELECT COUNT(*), MIN(ts), MAX(ts) FROM alerts {sql_where}", args).fetchone()
            # Aggregates read only indexed columns (an index-only scan); the rule name and the
            # address text come afterwards for the few winners, since reading them per row would
            # visit every matching table row and its JSON document.
            top_rules = [
                {"rule_id": rule_id, "rule_name": self._latest_rule_name(conn, where, args, rule_id), "count": count}
                for rule_id, count in conn.execute(
                    f"SELECT rule_id, COUNT(*) AS n FROM alerts {sql_where}"
                    " GROUP BY rule_id ORDER BY n DESC, rule_id ASC LIMIT ?", [*args, top]).fetchall()
            ]
            source_where = self._sql([*where, "source_ip_key IS NOT NULL"])
            # Ties sort by address bytes, as OpenSearch orders ip terms, not by their text.
            top_sources = [
                {"source_ip": ip_from_key(key), "count": count}
                for key, count in conn.execute(
                    f"SELECT source_ip_key, COUNT(*) AS n FROM alerts {source_where}"
                    " GROUP BY source_ip_key ORDER BY n DESC, source_ip_key ASC LIMIT ?", [*args, top])
            ]
            target_where = self._sql([*where, "service_name IS NOT NULL"])
            top_targets = [
                {"service_name": name, "count": count}
                for name, count in conn.execute(
                    f"SELECT service_name, COUNT(*) AS n FROM alerts {target_where}"
                    " GROUP BY service_name ORDER BY n DESC, service_name ASC LIMIT ?", [*args, top])
            ]
            now_ms = to_ms(datetime.now(timezone.utc))
            chosen = plan(query.from_ms, query.until_ms,
                          data_min if needs_data_bounds(query.from_ms, query.until_ms) else None,
                          data_max, interval, now_ms)
            histogram: list[dict[str, Any]] = []
            if chosen is not None:
                name, step, first, last = chosen
                counts = dict(conn.execute(
                    f"SELECT ts - (ts % ?) AS bucket, COUNT(*) FROM alerts {sql_where} GROUP BY bucket",
                    [step, *args]).fetchall())
                histogram = fill(counts, first, last, step)
                interval = name
        return AlertStats(total=total, top_rules=top_rules, top_sources=top_sources, histogram=histogram,
                          interval=interval or "", top_targets=top_targets)

    def _stats_from_rollups(self, query: AlertQuery, top: int, interval: str | None) -> AlertStats:
        """``stats`` for a query filtering on tenants, time and status only (see sqlite_rollup)."""
        where, args = self._where(query)
        with self._read("stats") as conn:
            reader = rollup.RollupReader(conn, query)
            total = reader.total()
            data_min = data_max = None
            if needs_data_bounds(query.from_ms, query.until_ms):
                data_min, data_max = reader.bounds()
            top_rules = [{"rule_id": rule_id, "rule_name": self._latest_rule_name(conn, where, args, rule_id),
                          "count": count} for rule_id, count in reader.top(rollup.RULES, top)]
            top_sources = [{"source_ip": ip_from_key(key), "count": count}
                           for key, count in reader.top(rollup.SOURCES, top)]
            top_targets = [{"service_name": name, "count": count} for name, count in reader.top(rollup.TARGETS, top)]
            chosen = plan(query.from_ms, query.until_ms, data_min, data_max, interval,
                          to_ms(datetime.now(timezone.utc)))
            histogram: list[dict[str, Any]] = []
            if chosen is not None:
                name, step, first, last = chosen
                if step % rollup.MINUTE == 0:
                    counts = reader.histogram(step)
                else:
                    # Sub-minute buckets come with short ranges: counting the rows is cheap.
                    counts = dict(conn.execute(
                        f"SELECT ts - (ts % ?) AS bucket, COUNT(*) FROM alerts {self._sql(where)} GROUP BY bucket",
                        [step, *args]).fetchall())
                histogram = fill(counts, first, last, step)
                interval = name
        return AlertStats(total=total, top_rules=top_rules, top_sources=top_sources, histogram=histogram,
                          interval=interval or "", top_targets=top_targets)

    def groups(self, query: AlertQuery, by: Sequence[GroupField], *, size: int = 100) -> AlertGroups:
        names = tuple(f.name for f in by)
        if query.tenant_ids == () or not by:
            return AlertGroups(by=names, groups=[])
        where, args = self._where(query)
        # Group on the address key, not its text, so that ties order as OpenSearch orders ip terms.
        columns = ["source_ip_key" if f.column == "source_ip" else f.column for f in by]
        shown = columns
        group_where = self._sql([*where, *(f"{c} IS NOT NULL" for c in columns)])
        with self._read("groups") as conn:
            rows = conn.execute(
                f"SELECT {', '.join(shown)}, COUNT(*) AS n, MIN(ts), MAX(ts) FROM alerts {group_where}"
                f" GROUP BY {', '.join(columns)} ORDER BY n DESC, {', '.join(f'{c} ASC' for c in columns)} LIMIT ?",
                [*args, size]).fetchall()
            names_by_rule: dict[str, str | None] = {}
            if "rule" in names:
                for rule_id in {row[names.index("rule")] for row in rows}:
                    names_by_rule[rule_id] = self._latest_rule_name(conn, where, args, rule_id)
        groups: list[dict[str, Any]] = []
        for row in rows:
            key = {f.key: ip_from_key(row[i]) if f.column == "source_ip" else row[i] for i, f in enumerate(by)}
            group: dict[str, Any] = {"key": key, "count": row[len(by)], "first_seen": ms_to_rfc3339(row[len(by) + 1]),
                                     "last_seen": ms_to_rfc3339(row[len(by) + 2])}
            if "rule" in names:
                group["rule_name"] = names_by_rule.get(key["rule_id"])
            groups.append(group)
        return AlertGroups(by=names, groups=groups)

    def triage(self, event_id: str, tenant_ids: tuple[str, ...] | None,
               change: TriageChange) -> dict[str, Any] | None:
        if tenant_ids is not None and not tenant_ids:
            return None
        sql, args = f"SELECT id, doc, {rollup.ROW_COLUMNS} FROM alerts WHERE event_id = ?", [event_id]
        if tenant_ids is not None:
            sql += f" AND tenant_id IN ({','.join('?' * len(tenant_ids))})"
            args += list(tenant_ids)
        # Read and write in one IMMEDIATE transaction: a concurrent change waits for this one and
        # then appends to the history this one wrote.
        with self._write("triage") as conn:
            row = conn.execute(sql + " ORDER BY ts, tenant_id LIMIT 1", args).fetchone()
            if row is None:
                return None
            doc = json.loads(row[1])
            doc["triage"] = next_triage(doc, change)
            conn.execute("UPDATE alerts SET doc = ?, triage_status = ? WHERE id = ?",
                         (json.dumps(doc, ensure_ascii=False, separators=(",", ":")), change.status, row[0]))
            before = row[2:]
            if before[2] != change.status:
                rollup.apply(conn, [before], -1)
                rollup.apply(conn, [(*before[:2], change.status, *before[3:])], 1)
        return doc

    def get(self, event_id: str, tenant_ids: tuple[str, ...] | None) -> dict[str, Any] | None:
        if tenant_ids is not None and not tenant_ids:
            return None
        sql, args = "SELECT doc FROM alerts WHERE event_id = ?", [event_id]
        if tenant_ids is not None:
            sql += f" AND tenant_id IN ({','.join('?' * len(tenant_ids))})"
            args += list(tenant_ids)
        with self._connection("get") as conn:
            row = conn.execute(sql + " ORDER BY ts, tenant_id LIMIT 1", args).fetchone()
        return None if row is None else json.loads(row[0])

    def delete_older_than(self, cutoff: datetime, tenant_id: str | None = None, vpc_id: str | None = None) -> int:
        if cutoff.utcoffset() is None:
            raise ValueError("cutoff must be a timezone-aware datetime")
        if vpc_id is not None and tenant_id is None:
            raise ValueError("vpc_id needs tenant_id: VPC ids are unique only within a tenant")
        sql, args = "SELECT id FROM alerts WHERE ts < ?", [to_ms(cutoff)]
        if tenant_id is not None:
            sql, args = sql + " AND tenant_id = ?", [*args, tenant_id]
        if vpc_id is not None:
            sql, args = sql + " AND vpc_id = ?", [*args, vpc_id]
        deleted = 0
        while True:
            # Short transactions: the indexer keeps writing while retention runs.
            with self._write("retention") as conn:
                ids = json.dumps([r[0] for r in conn.execute(f"{sql} LIMIT {_DELETE_BATCH}", args)])
                rollup.apply(conn, conn.execute(f"SELECT {rollup.ROW_COLUMNS} FROM alerts"
                                                " WHERE id IN (SELECT value FROM json_each(?))", (ids,)), -1)
                conn.execute("DELETE FROM alerts_fts WHERE rowid IN (SELECT value FROM json_each(?))", (ids,))
                count = conn.execute("DELETE FROM alerts WHERE id IN (SELECT value FROM json_each(?))", (ids,)).rowcount
            deleted += count
            if count < _DELETE_BATCH:
                return deleted
            time.sleep(0)  # let a waiting writer take the lock between batches

    def refresh(self) -> None:
        """Committed SQLite transactions are visible to every new read: nothing to do."""

    def ping(self) -> bool:
        try:
            with self._connection("ping") as conn:
                conn.execute("SELECT 1 FROM alerts LIMIT 1").fetchall()
            return True
        except (StoreError, sqlite3.Error):
            return False

    def close(self) -> None:
        self._closed = True
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA optimize")
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _latest_rule_name(self, conn: sqlite3.Connection, where: list[str], args: list[Any],
                          rule_id: str) -> str | None:
        """The name of the rule's most recent matching alert (a rule's msg can change between
        rule set versions; the latest is what the analyst will see next)."""
        # Unary + keeps the status term off the index: the walk must start from the rule's index
        # (alerts_rule_ts), not from every open alert's (alerts_status_ts) in search of this rule.
        where = ["+" + w if w.startswith("triage_status") else w for w in where]
        found = conn.execute(f"SELECT rule_name FROM alerts {self._sql([*where, 'rule_id = ?'])}"
                             " ORDER BY ts DESC LIMIT 1", [*args, rule_id]).fetchone()
        return found[0] if found else None

    # -- query building ------------------------------------------------------------------------
    @staticmethod
    def _sql(where: list[str]) -> str:
        return "WHERE " + " AND ".join(where) if where else ""

    @staticmethod
    def _where(query: AlertQuery) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        args: list[Any] = []
        if query.tenant_ids is not None:
            where.append(f"tenant_id IN ({','.join('?' * len(query.tenant_ids))})")
            args += list(query.tenant_ids)
        if query.from_ms is not None:
            where.append("ts >= ?")
            args.append(query.from_ms)
        if query.until_ms is not None:
            where.append("ts < ?")
            args.append(query.until_ms)
        for name in _EQUALITY_FILTERS:
            value = getattr(query, name)
            if value is not None:
                where.append(f"{name} = ?")
                args.append(value)
        if query.status is not None:
            where.append("triage_status = ?")
            args.append(query.status)
        if query.source_ip is not None:
            low, high = ip_filter_range(query.source_ip)
            if low == high:
                where.append("source_ip_key = ?")
                args.append(low)
            else:
                where.append("source_ip_key BETWEEN ? AND ?")
                args += [low, high]
        if query.terms:
            where.append("id IN (SELECT rowid FROM alerts_fts WHERE alerts_fts MATCH ?)")
            args.append(" ".join(_fts_phrase(t) for t in query.terms))
        return where, args
