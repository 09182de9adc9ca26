"""The SQLite rollups answer exactly what a scan of the alerts answers.

Each check runs the same query on one store file twice, once through the rollups and once with
``use_rollups=False`` (every read a scan), and compares both with a brute-force count over the
documents. Ranges are chosen to hit the rollups' edges: exact minute and hour boundaries, a
millisecond either side, ranges inside one minute or one hour, open ends, empty ranges. After
triage, retention and redelivered batches the rollup tables must equal a rebuild from the rows.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.stores import AlertQuery, TriageChange
from shared.stores import sqlite_rollup as rollup
from shared.stores.model import to_ms
from shared.stores.sqlite import SqliteStore
from shared.stores.triage import status_of
from tests.plugins.stores import make_alert
from tests.stores.reference import BASE, build_dataset, canonical, ts

HOUR = timedelta(hours=1)
MS = timedelta(milliseconds=1)
AT = datetime(2026, 11, 27, 17, 0, tzinfo=timezone.utc)


def _boundary_docs() -> list[dict[str, Any]]:
    """Alerts exactly on, and a millisecond either side of, minute and hour boundaries."""
    docs = []
    for i, at in enumerate((BASE + 3 * HOUR, BASE + 3 * HOUR - MS, BASE + 3 * HOUR + MS,
                            BASE + 7 * HOUR + timedelta(minutes=13), BASE + 7 * HOUR + timedelta(minutes=13) - MS,
                            BASE + 26 * HOUR + timedelta(minutes=59, seconds=59, milliseconds=999))):
        docs.append(make_alert(tenant_id=("a", "Dept.B")[i % 2], rule_id=f"edge-{i % 3}", source_ip=f"10.9.0.{i}",
                               service_name="edge-svc", timestamp=at.isoformat(timespec="milliseconds")
                               .replace("+00:00", "Z")))
    return docs


DOCS = build_dataset(n=220, seed=11) + _boundary_docs()
TENANT_SETS: list[tuple[str, ...] | None] = [None, ("a",), ("a", "Dept.B"), ("nobody",), ()]
RANGES: list[tuple[datetime | None, datetime | None]] = [
    (None, None),
    (BASE, BASE + 50 * HOUR),
    (BASE + 3 * HOUR, BASE + 27 * HOUR),                      # whole hours
    (BASE + 3 * HOUR + MS, BASE + 27 * HOUR - MS),            # a millisecond inside
    (BASE + 3 * HOUR - MS, BASE + 7 * HOUR + timedelta(minutes=13)),
    (BASE + 7 * HOUR + timedelta(minutes=13) - MS, BASE + 7 * HOUR + timedelta(minutes=13)),  # one ms
    (BASE + 2 * HOUR + timedelta(minutes=10, seconds=7), BASE + 2 * HOUR + timedelta(minutes=50)),  # in one hour
    (BASE + timedelta(minutes=77, seconds=0.1), BASE + timedelta(minutes=77, seconds=40)),  # in one minute
    (BASE + 5 * HOUR + timedelta(seconds=30.5), None),        # open end: data bounds come into play
    (None, BASE + 20 * HOUR + timedelta(seconds=1)),
    (BASE + 4 * HOUR, BASE + 4 * HOUR),                       # empty
]


def _status(doc: dict[str, Any]) -> str:
    return status_of(doc)


def brute(docs: list[dict[str, Any]], query: AlertQuery) -> list[dict[str, Any]]:
    out = []
    for d in docs:
        when = to_ms(ts(d))
        if query.tenant_ids is not None and d["tenant"]["id"] not in query.tenant_ids:
            continue
        if (query.from_ms is not None and when < query.from_ms) or (query.until_ms is not None and when >= query.until_ms):
            continue
        if query.status is not None and _status(d) != query.status:
            continue
        out.append(d)
    return out


class Pair:
    """The store read through the rollups and the same file read by scanning."""

    def __init__(self, path: Path) -> None:
        self.fast = SqliteStore(path)
        self.fast.ensure_ready()
        self.scan = SqliteStore(path, use_rollups=False)
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}

    def load(self, docs: list[dict[str, Any]]) -> None:
        result = self.fast.bulk_index(docs)
        assert result.failed == []
        for d in docs:
            self.docs.setdefault((d["tenant"]["id"], d["event"]["id"]), d)

    def triage(self, doc: dict[str, Any], status: str, minutes: int) -> None:
        change = TriageChange(status=status, by="t", at=AT + timedelta(minutes=minutes),
                              comment="checked" if status == "closed" else None)
        updated = self.fast.triage(doc["event"]["id"], (doc["tenant"]["id"],), change)
        assert updated is not None
        self.docs[(doc["tenant"]["id"], doc["event"]["id"])] = updated

    def check(self, query: AlertQuery, top: int = 4, interval: str | None = None) -> None:
        want = brute(list(self.docs.values()), query)
        fast = self.fast.stats(query, top=top, interval=interval)
        assert fast == self.scan.stats(query, top=top, interval=interval), query
        assert fast.total == len(want)
        assert sum(b["count"] for b in fast.histogram) == len(want)
        rules = Counter(d["rule"]["id"] for d in want)
        assert [(r["rule_id"], r["count"]) for r in fast.top_rules] == sorted(
            rules.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        sources = Counter(str(canonical(d["source"]["ip"])) for d in want if "source" in d)
        assert sorted(s["count"] for s in fast.top_sources) == sorted(sorted(sources.values())[::-1][:top])
        page = self.fast.search(query)
        assert page.total == len(want) == self.scan.search(query).total

    def tables(self) -> dict[str, list[tuple[Any, ...]]]:
        conn = sqlite3.connect(self.fast.path)
        try:
            return {f.table: conn.execute(f"SELECT * FROM {f.table} ORDER BY 1, 2, 3, 4").fetchall()
                    for f in rollup.LEVELS}
        finally:
            conn.close()

    def assert_tables_exact(self) -> None:
        """The maintained rollups equal a rebuild from the alerts, key for key (no zero rows)."""
        maintained = self.tables()
        conn = sqlite3.connect(self.fast.path, isolation_level=None)
        try:
            conn.execute("BEGIN")
            rollup.rebuild(conn)
            rebuilt = {f.table: conn.execute(f"SELECT * FROM {f.table} ORDER BY 1, 2, 3, 4").fetchall()
                       for f in rollup.LEVELS}
            conn.execute("ROLLBACK")
        finally:
            conn.close()
        assert maintained == rebuilt
        assert all(row[-1] > 0 for rows in maintained.values() for row in rows)

    def close(self) -> None:
        self.fast.close()
        self.scan.close()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    p = Pair(tmp_path / "audit.db")
    p.load(DOCS)
    # Some alerts acknowledged or closed (and one reopened): the status keys must follow.
    for i, doc in enumerate(DOCS[::7]):
        p.triage(doc, ("acknowledged", "closed")[i % 2], i)
    p.triage(DOCS[7], "open", 99)
    yield p
    p.close()


def test_split_cuts_whole_buckets_and_edges() -> None:
    step = rollup.HOUR
    assert rollup.split(0, 3 * step, step) == rollup.Split((0, 3 * step), ())
    assert rollup.split(1, 3 * step - 1, step) == rollup.Split((step, 2 * step), ((1, step), (2 * step, 3 * step - 1)))
    assert rollup.split(5, 7, step) == rollup.Split(None, ((5, 7),))
    assert rollup.split(5, 5, step) == rollup.Split(None, ())
    assert rollup.split(None, step + 1, step) == rollup.Split((None, step), ((step, step + 1),))
    assert rollup.split(-1, None, step) == rollup.Split((0, None), ((-1, 0),))
    assert rollup.bucket_of(-1, step) == -step
    day, hour = rollup.SOURCES.levels
    start = 5 * rollup.DAY
    assert rollup.pieces(start - rollup.HOUR - 7, start + 2 * rollup.DAY + rollup.HOUR + 1, rollup.SOURCES.levels) == [
        (day, start, start + 2 * rollup.DAY),
        (hour, start - rollup.HOUR, start), (None, start - rollup.HOUR - 7, start - rollup.HOUR),
        (hour, start + 2 * rollup.DAY, start + 2 * rollup.DAY + rollup.HOUR),
        (None, start + 2 * rollup.DAY + rollup.HOUR, start + 2 * rollup.DAY + rollup.HOUR + 1)]


@pytest.mark.parametrize("status", [None, "open", "closed"])
@pytest.mark.parametrize("tenants", TENANT_SETS, ids=repr)
def test_rollup_answers_equal_the_scan(pair: Pair, tenants: tuple[str, ...] | None, status: str | None) -> None:
    for time_from, time_to in RANGES:
        pair.check(AlertQuery(tenant_ids=tenants, status=status, time_from=time_from, time_to=time_to))


@pytest.mark.parametrize("interval", ["1m", "5m", "1h", "90m", "1d", "30s"])
def test_histogram_intervals_equal_the_scan(pair: Pair, interval: str) -> None:
    for time_from, time_to in RANGES[2:8]:
        pair.check(AlertQuery(tenant_ids=None, time_from=time_from, time_to=time_to), interval=interval)


def test_queries_with_other_filters_do_not_use_the_rollups() -> None:
    assert rollup.usable(AlertQuery(tenant_ids=("a",), status="open", time_from=BASE))
    for extra in ({"module": "waf"}, {"q": "alpha"}, {"source_ip": "10.0.0.0/8"}, {"rule_id": "1"},
                  {"service_name": "x"}, {"vpc_id": "v"}, {"severity": 2}, {"action": "blocked"},
                  {"trace_id": "t"}, {"flow_id": "f"}):
        assert not rollup.usable(AlertQuery(tenant_ids=("a",), **extra))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(-3_600_000, 52 * 3_600_000), length=st.integers(0, 30 * 3_600_000),
       tenants=st.sampled_from(TENANT_SETS[:3]), status=st.sampled_from([None, "open", "acknowledged"]))
def test_random_ranges_equal_the_scan(pair: Pair, start: int, length: int, tenants: tuple[str, ...] | None,
                                      status: str | None) -> None:
    time_from = BASE + timedelta(milliseconds=start)
    pair.check(AlertQuery(tenant_ids=tenants, status=status, time_from=time_from,
                          time_to=time_from + timedelta(milliseconds=length)))


def test_tables_stay_exact_through_triage_duplicates_and_retention(pair: Pair) -> None:
    pair.assert_tables_exact()
    before = pair.tables()
    # A redelivered batch (Kafka at-least-once) adds nothing.
    assert pair.fast.bulk_index(DOCS[:50]).duplicates == 50
    assert pair.tables() == before
    # Retention by tenant and VPC, at a cutoff inside an hour and a minute: counts of the
    # partially deleted buckets go down by exactly the deleted rows.
    cutoff = BASE + 9 * HOUR + timedelta(minutes=17, seconds=3)
    deleted = pair.fast.delete_older_than(cutoff, "a", "vpc-1")
    gone = [k for k, d in pair.docs.items()
            if k[0] == "a" and d.get("vpc", {}).get("id") == "vpc-1" and ts(d) < cutoff]
    assert deleted == len(gone) > 0
    for k in gone:
        del pair.docs[k]
    pair.assert_tables_exact()
    for time_from, time_to in RANGES:
        pair.check(AlertQuery(tenant_ids=None, time_from=time_from, time_to=time_to))
        pair.check(AlertQuery(tenant_ids=("a",), status="open", time_from=time_from, time_to=time_to))
    # Everything older than a boundary, every tenant; then the buckets before it are gone.
    cutoff = BASE + 20 * HOUR
    pair.fast.delete_older_than(cutoff)
    pair.docs = {k: d for k, d in pair.docs.items() if ts(d) >= cutoff}
    pair.assert_tables_exact()
    pair.check(AlertQuery(tenant_ids=None))
    pair.check(AlertQuery(tenant_ids=None, time_from=BASE + 19 * HOUR + timedelta(minutes=30)))


def test_triage_back_and_forth_moves_one_count(pair: Pair) -> None:
    doc = DOCS[1]
    query = AlertQuery(tenant_ids=(doc["tenant"]["id"],), status="closed")
    closed = pair.fast.stats(query).total
    pair.triage(doc, "closed", 1)
    pair.triage(doc, "closed", 2)  # same status again: no double count
    assert pair.fast.stats(query).total == closed + 1
    pair.triage(doc, "open", 3)
    assert pair.fast.stats(query).total == closed
    pair.assert_tables_exact()


def test_upgrade_builds_the_rollups(tmp_path: Path) -> None:
    """A version 2 store (no rollups) gets them built from its alerts on start."""
    p = Pair(tmp_path / "audit.db")
    try:
        p.load(DOCS[:80])
        conn = sqlite3.connect(p.fast.path)
        for f in rollup.LEVELS:
            conn.execute(f"DROP TABLE {f.table}")
        conn.execute("PRAGMA user_version=2")
        conn.commit()
        conn.close()
        p.fast.ensure_ready()
        p.assert_tables_exact()
        assert sum(row[-1] for row in p.tables()["alerts_by_minute"]) == 80
        p.check(AlertQuery(tenant_ids=None, time_from=BASE + timedelta(minutes=90)))
    finally:
        p.close()


def _skewed_docs() -> list[dict[str, Any]]:
    """Three days of two tenants' alerts from sources of Zipf-like weights (a few scanners and a
    long tail), so that the top sources are decided by bounds, not by reading every count."""
    import random

    rng = random.Random(5)
    sources = [f"10.1.{i // 200}.{i % 200 + 1}" for i in range(400)]
    weights = [1 / (rank + 1) ** 1.2 for rank in range(len(sources))]
    docs = []
    for _ in range(2500):
        at = BASE + timedelta(milliseconds=rng.randrange(0, 72 * 3_600_000))
        docs.append(make_alert(tenant_id=rng.choice(("a", "Dept.B")), source_ip=rng.choices(sources, weights)[0],
                               timestamp=at.isoformat(timespec="milliseconds").replace("+00:00", "Z")))
    return docs


@pytest.mark.parametrize("first", [1, 4])
def test_top_sources_by_bounds_equal_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: int) -> None:
    """The bounded top-k (each bucket's ``first`` largest counts, then deeper) returns exactly the
    scan's top sources, and does answer (it does not fall back to summing everything)."""
    monkeypatch.setattr(rollup, "_TOPK_FIRST", first)
    p = Pair(tmp_path / "audit.db")
    try:
        docs = _skewed_docs()
        p.load(docs)
        for doc in docs[::25]:
            p.triage(doc, "closed", 0)
        ranges = [(None, None), (BASE, BASE + 72 * HOUR), (BASE + 5 * HOUR + timedelta(minutes=3), None),
                  (BASE + 1 * HOUR + MS, BASE + 49 * HOUR - MS), (BASE + 30 * HOUR, BASE + 30 * HOUR + timedelta(minutes=20))]
        for time_from, time_to in ranges:
            for tenants in (None, ("a",)):
                for status in (None, "closed"):
                    query = AlertQuery(tenant_ids=tenants, status=status, time_from=time_from, time_to=time_to)
                    for size in (1, 10):
                        want = p.scan.stats(query, top=size).top_sources
                        assert p.fast.stats(query, top=size).top_sources == want
                        with p.fast._read("test") as conn:  # noqa: SLF001
                            found = rollup.RollupReader(conn, query)._top_bounded(rollup.SOURCES, size)  # noqa: SLF001
                        assert found is not None
                        assert [n for _, n in found] == [s["count"] for s in want]
        # Too many buckets to read one by one: everything is summed, with the same answer.
        monkeypatch.setattr(rollup, "_TOPK_MAX_LISTS", 0)
        query = AlertQuery(tenant_ids=None, time_from=BASE + HOUR + MS)
        assert p.fast.stats(query, top=5).top_sources == p.scan.stats(query, top=5).top_sources
    finally:
        p.close()
