"""SQLite backend specifics: URLs, persistence, schema versioning, locking, query plans, FTS safety."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.stores import AlertQuery, QueryParamError, StoreError, StoreUnavailable, open_store
from shared.stores.sqlite import SqliteStore
from tests.plugins.stores import make_alert


def test_open_store_absolute_and_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absolute = open_store(f"sqlite://{tmp_path}/abs.db")
    assert isinstance(absolute, SqliteStore) and absolute.path == f"{tmp_path}/abs.db"
    assert open_store(f"sqlite:///{tmp_path}/abs.db").path == f"{tmp_path}/abs.db"  # type: ignore[attr-defined]
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:rel.db")
    relative.ensure_ready()
    assert (tmp_path / "rel.db").exists()
    relative.close()


@pytest.mark.parametrize("url", ["sqlite://relative.db", "sqlite::memory:", "sqlite:", "mysql://x/y",
                                 "opensearch+http://h:9200?colour=red", "opensearch+ftp://h"])
def test_bad_store_urls(url: str) -> None:
    with pytest.raises(StoreError) as err:
        open_store(url)
    assert repr(url.split("?")[0])[:-1] in str(err.value)


def test_password_is_not_echoed_in_url_errors() -> None:
    with pytest.raises(StoreError) as err:
        open_store("opensearch+https://admin:s3cret@h:9200?bogus=1")
    assert "s3cret" not in str(err.value) and "bogus" in str(err.value)


def test_data_survives_reopen(tmp_path: Path) -> None:
    doc = make_alert(timestamp="2026-11-27T10:00:00.000Z")
    with SqliteStore(tmp_path / "a.db") as store:
        store.ensure_ready()
        store.bulk_index([doc])
    with SqliteStore(tmp_path / "a.db") as store:
        store.ensure_ready()
        assert store.bulk_index([doc]).duplicates == 1
        assert store.search(AlertQuery(tenant_ids=None, q="injection")).hits == [doc]
        with sqlite3.connect(tmp_path / "a.db") as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "a.db") as raw:
        raw.execute("PRAGMA user_version=99")
    store = SqliteStore(tmp_path / "a.db")
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        store.ensure_ready()
    store.close()


def test_missing_directory_is_unavailable(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "nope" / "a.db")
    with pytest.raises(StoreUnavailable, match="does not exist"):
        store.ensure_ready()
    assert store.ping() is False


def test_locked_database_is_unavailable(sqlite_store: SqliteStore, tmp_path: Path) -> None:
    impatient = SqliteStore(sqlite_store.path, busy_timeout=0.05)
    holder = sqlite3.connect(sqlite_store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable, match="locked"):
            impatient.bulk_index([make_alert()])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert impatient.bulk_index([make_alert()]).indexed == 1
    impatient.close()


def test_closed_store_refuses_work(sqlite_store: SqliteStore) -> None:
    sqlite_store.close()
    with pytest.raises(StoreError, match="closed"):
        sqlite_store.search(AlertQuery(tenant_ids=None))


def _plan(store: SqliteStore, sql: str, args: list[object]) -> str:
    with store._connection("plan") as conn:  # noqa: SLF001 - inspecting the planner is the point
        return " | ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args))


@pytest.mark.parametrize("filters", [
    {"tenant_ids": ("a",)},
    {"tenant_ids": ("a", "b")},
    {"tenant_ids": None},
    {"tenant_ids": None, "time_from": datetime(2026, 11, 23, tzinfo=timezone.utc)},
    {"tenant_ids": ("a",), "rule_id": "942100"},
    {"tenant_ids": ("a",), "source_ip": "10.0.0.0/8"},
    {"tenant_ids": None, "trace_id": "t-1"},
])
def test_queries_use_an_index(sqlite_store: SqliteStore, filters: dict[str, object]) -> None:
    # A full table scan is what makes a 1M-row store slow; the planner must find an index.
    sqlite_store.bulk_index([make_alert(tenant_id=t, rule_id=r, source_ip=f"10.0.{i}.1", timestamp=f"2026-11-2{i}T10:00:00.000Z")
                             for i in range(1, 8) for t in ("a", "b") for r in ("1", "942100")])
    with sqlite_store._connection("analyze") as conn:  # noqa: SLF001
        conn.execute("ANALYZE")
    where, args = SqliteStore._where(AlertQuery(**filters))  # noqa: SLF001
    sql = f"SELECT doc FROM alerts {SqliteStore._sql(where)} ORDER BY ts DESC, event_id DESC, tenant_id DESC LIMIT 51"  # noqa: SLF001
    plan = _plan(sqlite_store, sql, args)
    assert "alerts USING INDEX alerts_" in plan or "alerts USING COVERING INDEX alerts_" in plan, plan


@pytest.mark.parametrize(("tenants", "index"), [(None, "alerts_status_ts"), (("a",), "alerts_tenant_status_ts")])
@pytest.mark.parametrize("cursor", [False, True])
def test_inbox_pages_come_in_index_order(sqlite_store: SqliteStore, tenants: tuple[str, ...] | None, index: str,
                                         cursor: bool) -> None:
    """``status=open`` newest first, one tenant or all, first page or later: the page is read in
    index order and stops after 51 rows, with no sort of the week's open alerts."""
    sqlite_store.bulk_index([make_alert(tenant_id=t, rule_id=r, source_ip=f"10.0.{i}.1", timestamp=f"2026-11-2{i}T10:00:00.000Z")
                             for i in range(1, 8) for t in ("a", "b") for r in ("1", "942100")])
    with sqlite_store._connection("analyze") as conn:  # noqa: SLF001
        conn.execute("ANALYZE")
    query = AlertQuery(tenant_ids=tenants, status="open", time_from=datetime(2026, 11, 20, tzinfo=timezone.utc))
    where, args = SqliteStore._where(query)  # noqa: SLF001
    if cursor:
        where.append("(ts, event_id, tenant_id) < (?, ?, ?)")
        args += [1, "x", "a"]
    sql = f"SELECT doc FROM alerts {SqliteStore._sql(where)} ORDER BY ts DESC, event_id DESC, tenant_id DESC LIMIT 51"  # noqa: SLF001
    plan = _plan(sqlite_store, sql, args)
    assert f"USING INDEX {index} " in plan and "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize("status", ["open", "closed"])
def test_rule_names_are_looked_up_from_the_rule_index(sqlite_store: SqliteStore, status: str) -> None:
    """The overview's rule names (latest alert of each top rule) start from the rule, not from the
    whole inbox: with a status filter the status index would walk every open alert."""
    sqlite_store.bulk_index([make_alert(tenant_id=t, rule_id=r, timestamp=f"2026-11-2{i}T10:00:00.000Z")
                             for i in range(1, 8) for t in ("a", "b") for r in ("1", "942100")])
    statements: list[str] = []
    with sqlite_store._connection("trace") as conn:  # noqa: SLF001
        conn.set_trace_callback(statements.append)
    try:
        sqlite_store.stats(AlertQuery(tenant_ids=None, status=status, time_from=datetime(2026, 11, 20, tzinfo=timezone.utc)))
    finally:
        with sqlite_store._connection("trace") as conn:  # noqa: SLF001
            conn.set_trace_callback(None)
    lookups = [sql for sql in statements if sql.startswith("SELECT rule_name FROM alerts")]
    assert len(lookups) == (2 if status == "open" else 0)
    for sql in lookups:
        assert "USING INDEX alerts_rule_ts " in _plan(sqlite_store, sql, []), sql


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(min_size=1, max_size=60))
def test_no_free_text_can_break_fts(sqlite_store: SqliteStore, q: str) -> None:
    try:
        query = AlertQuery(tenant_ids=None, q=q)
    except QueryParamError as exc:
        assert exc.param == "q"
        return
    sqlite_store.search(query)  # must not raise: FTS5 syntax errors are impossible by construction
