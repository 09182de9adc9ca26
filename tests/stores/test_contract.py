"""The AuditStore contract, run against every backend (``audit_store`` is parametrized).

Every result is compared with a brute-force evaluation over the inserted documents
(tests/stores/reference.py), never with numbers worked out by hand.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.stores import AlertQuery, AuditStore, QueryParamError, open_store
from shared.stores.histogram import bucket_start, interval_ms
from shared.stores.model import ms_to_rfc3339, to_ms
from tests.plugins.stores import make_alert
from tests.stores.reference import (BASE, RULES, TENANTS, build_dataset, canonical, expected, ids, sort_key, top,
                                   ts)

DOCS = build_dataset()


def load(store: AuditStore, docs: list[dict[str, Any]] = DOCS) -> None:
    result = store.bulk_index(docs)
    assert result.failed == []
    store.refresh()


def walk(store: AuditStore, query: AlertQuery) -> list[dict[str, Any]]:
    """All hits of a query, page by page, checking each page's total and size."""
    hits: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10_000):
        page = store.search(AlertQuery(**{**_fields(query), "cursor": cursor}))
        assert len(page.hits) <= query.size
        hits.extend(page.hits)
        if page.next_cursor is None:
            return hits
        assert len(page.hits) == query.size
        cursor = page.next_cursor
    raise AssertionError("pagination did not end")


def _fields(query: AlertQuery) -> dict[str, Any]:
    names = ("tenant_ids", "q", "time_from", "time_to", "module", "action", "rule_id", "source_ip", "severity",
             "vpc_id", "service_name", "trace_id", "size", "cursor", "sort")
    return {n: getattr(query, n) for n in names}


def test_bulk_is_idempotent_on_event_id(audit_store: AuditStore) -> None:
    first = audit_store.bulk_index(DOCS[:40])
    assert (first.indexed, first.duplicates, first.failed) == (40, 0, [])
    again = audit_store.bulk_index(DOCS[:40] + [DOCS[40], DOCS[40]])
    assert (again.indexed, again.duplicates, again.failed) == (1, 41, [])
    audit_store.refresh()
    page = audit_store.search(AlertQuery(tenant_ids=None, size=1000))
    assert page.total == 41
    assert sorted(ids(page.hits)) == sorted(ids(DOCS[:41]))


def test_replay_returns_the_original_document(audit_store: AuditStore) -> None:
    doc = DOCS[0]
    load(audit_store, [doc])
    load(audit_store, [doc])
    assert audit_store.get(doc["event"]["id"], None) == doc


def test_same_event_id_in_another_tenant_is_not_swallowed(audit_store: AuditStore) -> None:
    # A tenant must not be able to suppress another tenant's alert by reusing its event.id.
    mine = make_alert(tenant_id="a", timestamp="2026-11-27T10:00:00.000Z")
    forged = make_alert(tenant_id="a-b", event_id=mine["event"]["id"], timestamp="2026-11-27T10:00:00.000Z")
    assert audit_store.bulk_index([forged]).indexed == 1
    assert audit_store.bulk_index([mine]).indexed == 1
    audit_store.refresh()
    assert audit_store.get(mine["event"]["id"], ("a",)) == mine
    assert audit_store.get(mine["event"]["id"], ("a-b",)) == forged


def test_unusable_documents_are_reported_not_stored(audit_store: AuditStore) -> None:
    good = DOCS[0]
    no_tenant = {k: v for k, v in DOCS[1].items() if k != "tenant"}
    bad_time = {**DOCS[2], "@timestamp": "yesterday"}
    result = audit_store.bulk_index([good, no_tenant, bad_time, "not a dict"])  # type: ignore[list-item]
    assert result.indexed == 1
    reasons = dict(result.failed)
    assert "tenant.id" in reasons[DOCS[1]["event"]["id"]]
    assert "@timestamp" in reasons[DOCS[2]["event"]["id"]]
    assert ("", "an alert is a JSON object, got str") in result.failed
    audit_store.refresh()
    assert audit_store.search(AlertQuery(tenant_ids=None)).total == 1


FILTERS: list[dict[str, Any]] = [
    {},
    {"module": "ips"},
    {"action": "dropped"},
    {"rule_id": "942100"},
    {"severity": 4},
    {"vpc_id": "vpc-2"},
    {"service_name": "mail"},
    {"trace_id": "trace-3"},
    {"source_ip": "10.0.0.1"},
    {"source_ip": "10.0.0.0/24"},
    {"source_ip": "::ffff:10.0.0.3"},
    {"source_ip": "2001:db8::/32"},
    {"q": "bravo"},
    {"q": '"charlie delta"'},
    {"q": "union SELECT"},
    {"q": 'passwd "os file"'},
    {"q": "attack xss"},
    {"time_from": BASE + timedelta(hours=10), "time_to": BASE + timedelta(hours=30)},
    {"time_from": BASE + timedelta(hours=20)},
    {"time_to": BASE + timedelta(hours=20)},
    {"module": "waf", "severity": 2, "q": "echo"},
]


@pytest.mark.parametrize("filters", FILTERS, ids=[repr(f) for f in FILTERS])
def test_filters_match_brute_force(audit_store: AuditStore, filters: dict[str, Any]) -> None:
    load(audit_store)
    for tenants in (None, ("a", "Dept.B")):
        query = AlertQuery(tenant_ids=tenants, size=1000, **filters)
        page = audit_store.search(query)
        want = expected(DOCS, query)
        assert page.total == len(want)
        assert ids(page.hits) == ids(want)
        assert page.next_cursor is None


def test_phrase_needs_word_order(audit_store: AuditStore) -> None:
    doc = make_alert(matched_data="union all select", timestamp="2026-11-27T10:00:00.000Z")
    load(audit_store, [doc])
    assert audit_store.search(AlertQuery(tenant_ids=None, q='"union all"')).total == 1
    assert audit_store.search(AlertQuery(tenant_ids=None, q='"all union"')).total == 0
    assert audit_store.search(AlertQuery(tenant_ids=None, q="select union")).total == 1


@pytest.mark.parametrize("q", ['NEAR(a b)', 'a OR b AND NOT c', 'col:val', '^x', '(x', 'x)', '"a" "b"', "a-b",
                               "{x}", "+x -y", "x~2", "ünïcödé", "%00", "'; DROP TABLE alerts;--", 'alpha*', '"a*b"'])
def test_engine_syntax_in_free_text_is_plain_text(audit_store: AuditStore, q: str) -> None:
    load(audit_store, DOCS[:5])
    query = AlertQuery(tenant_ids=None, q=q)
    assert audit_store.search(query).total == len(expected(DOCS[:5], query))


@pytest.mark.parametrize("q", ["*", "'", "\\", "--", '"', '"a', '""', "x" * 1025])
def test_free_text_without_words_is_a_param_error(q: str) -> None:
    with pytest.raises(QueryParamError) as err:
        AlertQuery(tenant_ids=None, q=q)
    assert err.value.param == "q"


@pytest.mark.parametrize("sort", ["desc", "asc"])
def test_sort_by_time_then_event_id(audit_store: AuditStore, sort: str) -> None:
    load(audit_store)
    page = audit_store.search(AlertQuery(tenant_ids=None, size=1000, sort=sort))
    assert [sort_key(h) for h in page.hits] == sorted(map(sort_key, DOCS), reverse=sort == "desc")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(1, 40), sort=st.sampled_from(["desc", "asc"]),
       filters=st.sampled_from(FILTERS), tenants=st.sampled_from([None, ("a",), ("a-b", "Dept.B")]))
def test_pagination_visits_every_hit_once_in_order(audit_store: AuditStore, size: int, sort: str,
                                                    filters: dict[str, Any], tenants: tuple[str, ...] | None) -> None:
    if audit_store.search(AlertQuery(tenant_ids=None, size=1)).total == 0:
        load(audit_store)
    query = AlertQuery(tenant_ids=tenants, size=size, sort=sort, **filters)
    assert ids(walk(audit_store, query)) == ids(expected(DOCS, query))


def test_pagination_is_stable_while_alerts_arrive(audit_store: AuditStore) -> None:
    load(audit_store)
    query = AlertQuery(tenant_ids=None, size=7)
    seen: list[dict[str, Any]] = []
    page = audit_store.search(query)
    newer = 0
    while True:
        seen.extend(page.hits)
        # New alerts arrive between pages, newer than everything and at the cursor's own instant.
        last = seen[-1]
        arrivals = [make_alert(tenant_id="a", timestamp="2026-12-01T00:00:00.000Z"),
                    make_alert(tenant_id="a", timestamp=last["@timestamp"])]
        load(audit_store, arrivals)
        newer += 1
        if page.next_cursor is None:
            break
        page = audit_store.search(AlertQuery(tenant_ids=None, size=7, cursor=page.next_cursor))
    original = set(ids(DOCS))
    walked = [i for i in ids(seen) if i in original]
    assert walked == ids(expected(DOCS, AlertQuery(tenant_ids=None)))
    # Arrivals at the cursor's instant sort before or after it by event id; only those after it
    # may appear, and nothing appears twice.
    assert len(ids(seen)) == len(set(ids(seen)))
    assert all(sort_key(a) >= sort_key(b) for a, b in zip(seen, seen[1:]))


def test_tenant_isolation(audit_store: AuditStore) -> None:
    load(audit_store)
    for tenant in TENANTS:
        page = audit_store.search(AlertQuery(tenant_ids=(tenant,), size=1000))
        assert page.hits and {h["tenant"]["id"] for h in page.hits} == {tenant}
        assert page.total == sum(d["tenant"]["id"] == tenant for d in DOCS)
        stats = audit_store.stats(AlertQuery(tenant_ids=(tenant,)), top=100)
        assert stats.total == page.total
        assert sum(r["count"] for r in stats.top_rules) == page.total
        assert sum(b["count"] for b in stats.histogram) == page.total
    other = next(d for d in DOCS if d["tenant"]["id"] == "a-b")
    assert audit_store.get(other["event"]["id"], ("a",)) is None
    assert audit_store.get(other["event"]["id"], ("a-b",)) == other
    assert audit_store.get(other["event"]["id"], None) == other
    assert audit_store.get(other["event"]["id"], ()) is None
    assert audit_store.get("00000000-0000-4000-8000-000000000000", None) is None
    nothing = AlertQuery(tenant_ids=())
    assert audit_store.search(nothing).total == 0
    empty = audit_store.stats(nothing)
    assert (empty.total, empty.top_rules, empty.top_sources, empty.histogram) == (0, [], [], [])
    assert audit_store.search(AlertQuery(tenant_ids=("nobody",))).total == 0


STATS_CASES: list[dict[str, Any]] = [
    {"tenant_ids": None},
    {"tenant_ids": ("a", "a-b"), "module": "waf"},
    {"tenant_ids": None, "time_from": BASE + timedelta(hours=5), "time_to": BASE + timedelta(hours=29)},
    {"tenant_ids": ("Dept.B",), "q": "alpha"},
]


@pytest.mark.parametrize("case", STATS_CASES, ids=[repr(c) for c in STATS_CASES])
@pytest.mark.parametrize("interval", [None, "1h", "90m", "1d"])
def test_stats_match_brute_force(audit_store: AuditStore, case: dict[str, Any], interval: str | None) -> None:
    load(audit_store)
    query = AlertQuery(**case)
    want = expected(DOCS, query)
    stats = audit_store.stats(query, top=3, interval=interval)
    assert stats.total == len(want)
    rules = top(Counter(d["rule"]["id"] for d in want), 3)
    assert [(r["rule_id"], r["count"]) for r in stats.top_rules] == rules
    assert all(r["rule_name"] == RULES[r["rule_id"]] for r in stats.top_rules)
    sources = Counter(str(_canon(d["source"]["ip"])) for d in want if "source" in d)
    assert [(s["source_ip"], s["count"]) for s in stats.top_sources] == top(sources, 3, key=_canon_key)
    if interval is not None:
        assert stats.interval == interval
    step = interval_ms(stats.interval)
    buckets = Counter(bucket_start(to_ms(ts(d)), step) for d in want)
    got = {b["time"]: b["count"] for b in stats.histogram}
    assert {t: c for t, c in got.items() if c} == {ms_to_rfc3339(k): v for k, v in buckets.items()}
    times = [datetime.fromisoformat(b["time"]) for b in stats.histogram]
    assert all(later - earlier == timedelta(milliseconds=step) for earlier, later in zip(times, times[1:]))
    if interval is None:
        assert len(stats.histogram) <= 100
    if query.time_from is not None:
        assert stats.histogram[0]["time"] == ms_to_rfc3339(bucket_start(query.from_ms, step))
        assert stats.histogram[-1]["time"] == ms_to_rfc3339(bucket_start(query.until_ms - 1, step))


def _canon(ip: str) -> Any:
    return canonical(ip)


def _canon_key(ip: str) -> bytes:
    addr = _canon(ip)
    return (b"\0" * 10 + b"\xff\xff" + addr.packed) if addr.version == 4 else addr.packed


def test_stats_rule_name_is_the_latest(audit_store: AuditStore) -> None:
    load(audit_store, [make_alert(rule_id="1", rule_name="old name", timestamp="2026-11-27T10:00:00.000Z"),
                       make_alert(rule_id="1", rule_name="new name", timestamp="2026-11-27T11:00:00.000Z"),
                       make_alert(rule_id="1", rule_name="older name", timestamp="2026-11-27T09:00:00.000Z")])
    assert audit_store.stats(AlertQuery(tenant_ids=None)).top_rules == [
        {"rule_id": "1", "rule_name": "new name", "count": 3}]


def test_stats_histogram_covers_an_open_ended_range_up_to_now(audit_store: AuditStore) -> None:
    now = datetime.now(timezone.utc)
    recent = make_alert(timestamp=(now - timedelta(minutes=7)).isoformat(timespec="milliseconds")
                        .replace("+00:00", "Z"))
    load(audit_store, [recent])
    stats = audit_store.stats(AlertQuery(tenant_ids=None, time_from=now - timedelta(minutes=15)), interval="1m")
    assert sum(b["count"] for b in stats.histogram) == 1
    assert len(stats.histogram) in (15, 16)  # from now-15m to now, in whole minutes


def test_invalid_interval_is_a_param_error(audit_store: AuditStore) -> None:
    load(audit_store)
    with pytest.raises(QueryParamError) as err:
        audit_store.stats(AlertQuery(tenant_ids=None), interval="1s")  # ~180000 buckets over 50 h
    assert err.value.param == "interval"


@pytest.mark.parametrize("tenant", [None, "a", "Dept.B"])
def test_retention_deletes_exactly_the_old_alerts(audit_store: AuditStore, tenant: str | None) -> None:
    load(audit_store)
    cutoff = BASE + timedelta(hours=27, minutes=13)  # inside the middle day
    doomed = [d for d in DOCS if ts(d) < cutoff and (tenant is None or d["tenant"]["id"] == tenant)]
    assert doomed
    assert audit_store.delete_older_than(cutoff, tenant) == len(doomed)
    audit_store.refresh()
    left = audit_store.search(AlertQuery(tenant_ids=None, size=1000)).hits
    assert sorted(ids(left)) == sorted(set(ids(DOCS)) - set(ids(doomed)))
    assert audit_store.delete_older_than(cutoff, tenant) == 0
    # A deleted alert can be indexed again (retention is not a tombstone).
    assert audit_store.bulk_index(doomed[:1]).indexed == 1


def test_cursor_is_checked(audit_store: AuditStore) -> None:
    load(audit_store)
    page = audit_store.search(AlertQuery(tenant_ids=None, size=5, sort="desc"))
    assert page.next_cursor is not None
    with pytest.raises(QueryParamError) as err:
        AlertQuery(tenant_ids=None, sort="asc", cursor=page.next_cursor)
    assert err.value.param == "cursor" and "sort=desc" in str(err.value)
    for bad in ("", "x", page.next_cursor[:-3], "eyJhIjoxfQ"):
        with pytest.raises(QueryParamError) as err:
            AlertQuery(tenant_ids=None, cursor=bad)
        assert err.value.param == "cursor"


def test_concurrent_writers_and_readers(audit_store: AuditStore) -> None:
    errors: list[BaseException] = []
    chunks = [DOCS[i::4] for i in range(4)]

    def write(chunk: list[dict[str, Any]]) -> None:
        try:
            for i in range(0, len(chunk), 5):
                audit_store.bulk_index(chunk[i:i + 5] + chunk[:2])  # overlapping re-sends
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(20):
                audit_store.search(AlertQuery(tenant_ids=("a",), q="alpha"))
                audit_store.stats(AlertQuery(tenant_ids=None), interval="1h")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(c,)) for c in chunks] + [threading.Thread(target=read)
                                                                               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    audit_store.refresh()
    assert sorted(ids(audit_store.search(AlertQuery(tenant_ids=None, size=1000)).hits)) == sorted(ids(DOCS))


def test_ping_and_close(audit_store: AuditStore) -> None:
    assert audit_store.ping() is True
    audit_store.close()
    assert audit_store.ping() is False


def test_top_sources_ties_order_by_address_not_text(audit_store: AuditStore) -> None:
    # OpenSearch orders equal-count ip terms by address bytes; "10.0.0.10" < "10.0.0.9" as text.
    load(audit_store, [make_alert(source_ip=ip, timestamp="2026-11-27T10:00:00.000Z")
                       for ip in ("2001:db8::1", "10.0.0.10", "10.0.0.9", "9.0.0.1", "10.0.0.9")])
    stats = audit_store.stats(AlertQuery(tenant_ids=None), top=4)
    assert [(s["source_ip"], s["count"]) for s in stats.top_sources] == [
        ("10.0.0.9", 2), ("9.0.0.1", 1), ("10.0.0.10", 1), ("2001:db8::1", 1)]


def test_binary_looking_payloads_round_trip(audit_store: AuditStore) -> None:
    # matched.data comes from attack traffic: NUL, control characters and astral code points.
    doc = make_alert(matched_data="a\x00b\x01c \U0001F600 ümlaut\ttab '\"\\", url_original="/x?\x7f=%00",
                     timestamp="2026-11-27T10:00:00.000Z")
    load(audit_store, [doc])
    assert audit_store.get(doc["event"]["id"], None) == doc
    assert audit_store.search(AlertQuery(tenant_ids=None, q="ümlaut")).hits == [doc]


def test_wrongly_typed_fields_fail_the_document_not_the_batch(audit_store: AuditStore) -> None:
    good = make_alert(timestamp="2026-11-27T10:00:00.000Z")
    bad = {**make_alert(timestamp="2026-11-27T10:00:00.000Z"), "vpc": {"id": {"nested": "object"}}}
    result = audit_store.bulk_index([bad, good])
    assert result.indexed == 1
    assert [event_id for event_id, _ in result.failed] == [bad["event"]["id"]]
    audit_store.refresh()
    assert audit_store.get(good["event"]["id"], None) == good


def test_large_batches(audit_store: AuditStore) -> None:
    docs = [make_alert(timestamp=f"2026-11-27T10:{i // 60 % 60:02d}:{i % 60:02d}.000Z") for i in range(2500)]
    result = audit_store.bulk_index(docs + docs[:10])
    assert (result.indexed, result.duplicates) == (2500, 10)
    audit_store.refresh()
    assert audit_store.search(AlertQuery(tenant_ids=("demo",), size=1)).total == 2500


def test_store_url_opens_the_same_store(audit_store: AuditStore, audit_store_url: str) -> None:
    load(audit_store, DOCS[:3])
    with open_store(audit_store_url) as other:
        assert other.search(AlertQuery(tenant_ids=None)).total == 3
