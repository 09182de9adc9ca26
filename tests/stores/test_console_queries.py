"""What the SOC console needs from a store, on every backend: triage, status and flow filters,
grouping, top targets, uncounted pages for exports. Results are checked against brute force over
the reference data set (tests/stores/reference.py), as in test_contract.py."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from shared.events import validate_alert
from shared.stores import AlertQuery, AuditStore, QueryParamError, TriageChange
from shared.stores.groups import GROUP_FIELDS, parse_group_by
from shared.stores.model import ms_to_rfc3339, to_ms
from shared.stores.sqlite import SqliteStore
from tests.plugins.stores import make_alert
from tests.stores.reference import TENANTS, build_dataset, canonical, expected, ids, ts

DOCS = build_dataset()
AT = datetime(2026, 11, 27, 17, 0, tzinfo=timezone.utc)


def load(store: AuditStore, docs: list[dict[str, Any]] = DOCS) -> None:
    assert store.bulk_index(docs).failed == []
    store.refresh()


def change(status: str, comment: str | None = None, by: str = "an-a", minutes: int = 0) -> TriageChange:
    return TriageChange(status=status, comment=comment, by=by, at=AT + timedelta(minutes=minutes))


def test_triage_records_who_when_and_history(audit_store: AuditStore) -> None:
    load(audit_store)
    target = DOCS[3]
    event_id, tenant = target["event"]["id"], target["tenant"]["id"]
    doc = audit_store.triage(event_id, (tenant,), change("acknowledged"))
    assert doc is not None and doc["triage"]["status"] == "acknowledged"
    doc = audit_store.triage(event_id, (tenant,), change("closed", "pentest window, SOC-412", by="ad-a", minutes=5))
    doc = audit_store.triage(event_id, None, change("open", by="prov", minutes=9))
    stored = audit_store.get(event_id, (tenant,))
    assert stored == doc
    validate_alert(stored)  # the schema knows the triage object: exports and e2e checks stay valid
    assert stored["triage"]["status"] == "open"
    assert stored["triage"]["comment"] is None  # the close comment does not leak into "open"
    assert [(h["status"], h["by"], h.get("comment")) for h in stored["triage"]["history"]] == [
        ("acknowledged", "an-a", None), ("closed", "ad-a", "pentest window, SOC-412"), ("open", "prov", None)]
    assert stored["triage"]["at"] == ms_to_rfc3339(to_ms(AT + timedelta(minutes=9)))
    # Everything else of the alert is unchanged.
    assert {k: v for k, v in stored.items() if k != "triage"} == target


def test_triage_is_tenant_scoped(audit_store: AuditStore) -> None:
    load(audit_store)
    target = next(d for d in DOCS if d["tenant"]["id"] == "a")
    assert audit_store.triage(target["event"]["id"], ("a-b",), change("acknowledged")) is None
    assert audit_store.triage(target["event"]["id"], (), change("acknowledged")) is None
    assert audit_store.triage("no-such-event", None, change("acknowledged")) is None
    assert "triage" not in audit_store.get(target["event"]["id"], None)


@pytest.mark.parametrize("status", ["open", "acknowledged", "closed"])
def test_status_filter_matches_brute_force(audit_store: AuditStore, status: str) -> None:
    load(audit_store)
    wanted: dict[str, str] = {}
    for i, doc in enumerate(DOCS[:40]):
        new = ("acknowledged", "closed", "open")[i % 3]
        if i % 4 == 0:
            continue  # never triaged: open
        audit_store.triage(doc["event"]["id"], (doc["tenant"]["id"],),
                           change(new, "reviewed" if new == "closed" else None))
        wanted[f'{doc["tenant"]["id"]}/{doc["event"]["id"]}'] = new
    audit_store.refresh()
    for tenants in (None, ("a",)):
        query = AlertQuery(tenant_ids=tenants, status=status, size=1000)
        page = audit_store.search(query)
        want = [i for i in ids(expected(DOCS, AlertQuery(tenant_ids=tenants, size=1000)))
                if wanted.get(i, "open") == status]
        assert ids(page.hits) == want
        assert page.total == len(want)
        assert audit_store.stats(query).total == len(want)


def test_concurrent_triage_loses_no_transition(audit_store: AuditStore) -> None:
    load(audit_store, DOCS[:5])
    target = DOCS[0]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            audit_store.triage(target["event"]["id"], None, change("acknowledged", f"note {n}", by=f"k{n}"))
        except BaseException as exc:  # reported below; a thread must not swallow it
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = audit_store.get(target["event"]["id"], None)["triage"]["history"]
    assert sorted(h["by"] for h in history) == [f"k{n}" for n in range(6)]


def test_triage_change_is_validated() -> None:
    with pytest.raises(QueryParamError) as info:
        change("closed")
    assert info.value.param == "comment"
    with pytest.raises(QueryParamError):
        change("closed", "   ")
    with pytest.raises(QueryParamError) as info:
        change("escalated")
    assert info.value.param == "status"
    with pytest.raises(QueryParamError):
        change("acknowledged", "x" * 2001)


def _group_key(doc: dict[str, Any], name: str) -> Any:
    source = doc.get("source", {}).get("ip")
    return {"rule": doc["rule"]["id"], "source": None if source is None else str(canonical(source)),
            "target": doc.get("service", {}).get("name"), "vpc": doc.get("vpc", {}).get("id"),
            "module": doc["event"]["module"], "action": doc["event"]["action"],
            "severity": doc["event"]["severity"], "tenant": doc["tenant"]["id"]}[name]


@pytest.mark.parametrize("by", ["rule,source", "rule", "source", "target,severity", "tenant,module,action"])
@pytest.mark.parametrize("tenants", [None, ("a", "Dept.B")])
def test_groups_match_brute_force(audit_store: AuditStore, by: str, tenants: tuple[str, ...] | None) -> None:
    load(audit_store)
    fields = parse_group_by(by)
    query = AlertQuery(tenant_ids=tenants, time_from=datetime(2026, 11, 26, tzinfo=timezone.utc))
    matching = [d for d in expected(DOCS, query)
                if all(_group_key(d, f.name) is not None for f in fields)]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for doc in matching:
        groups.setdefault(tuple(_group_key(doc, f.name) for f in fields), []).append(doc)
    found = audit_store.groups(query, fields, size=1000)
    assert found.by == tuple(by.split(","))
    got = {tuple(g["key"][f.key] for f in fields): g for g in found.groups}
    assert set(got) == set(groups)
    for key, members in groups.items():
        group = got[key]
        assert group["count"] == len(members)
        assert group["first_seen"] == ms_to_rfc3339(min(to_ms(ts(d)) for d in members))
        assert group["last_seen"] == ms_to_rfc3339(max(to_ms(ts(d)) for d in members))
        if "rule" in found.by:
            latest = max(members, key=lambda d: to_ms(ts(d)))
            assert group["rule_name"] == latest["rule"]["name"]
    counts = [g["count"] for g in found.groups]
    assert counts == sorted(counts, reverse=True)


def test_groups_size_keeps_the_largest(audit_store: AuditStore) -> None:
    burst = [make_alert(tenant_id="a", rule_id="942100", source_ip="198.51.100.9") for _ in range(30)]
    load(audit_store, DOCS + burst)
    found = audit_store.groups(AlertQuery(tenant_ids=None), parse_group_by("rule,source"), size=2)
    assert len(found.groups) == 2
    assert found.groups[0]["key"] == {"rule_id": "942100", "source_ip": "198.51.100.9"}
    assert found.groups[0]["count"] == 30
    assert audit_store.groups(AlertQuery(tenant_ids=()), parse_group_by("rule"), size=5).groups == []


def test_group_by_is_validated() -> None:
    for bad in ("", "rule,,source", "rule,rule", "color", "rule,source,target,vpc"):
        with pytest.raises(QueryParamError) as info:
            parse_group_by(bad)
        assert info.value.param == "by"
    assert [f.name for f in parse_group_by(" rule , source ")] == ["rule", "source"]
    assert set(GROUP_FIELDS) >= {"rule", "source", "target"}


def test_top_targets_match_brute_force(audit_store: AuditStore) -> None:
    load(audit_store)
    for tenants in (None, ("a-b",)):
        query = AlertQuery(tenant_ids=tenants, severity=2)
        counts = Counter(d["service"]["name"] for d in expected(DOCS, query) if d.get("service"))
        want = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        got = audit_store.stats(query).top_targets
        assert [(t["service_name"], t["count"]) for t in got] == want


def test_flow_filter_finds_the_other_alerts_of_a_connection(audit_store: AuditStore) -> None:
    docs = [make_alert(tenant_id="a", module="ips", rule_id="2100498", flow_id="1234567"),
            make_alert(tenant_id="a", module="ips", rule_id="2001219", flow_id="1234567"),
            make_alert(tenant_id="a", module="ips", rule_id="2001219", flow_id="7654321"),
            make_alert(tenant_id="b", module="ips", rule_id="2001219", flow_id="1234567")]
    load(audit_store, docs)
    page = audit_store.search(AlertQuery(tenant_ids=("a",), flow_id="1234567"))
    assert sorted(h["rule"]["id"] for h in page.hits) == ["2001219", "2100498"]


def test_pages_without_total_walk_everything(audit_store: AuditStore) -> None:
    load(audit_store)
    query = AlertQuery(tenant_ids=None, size=7, with_total=False, sort="asc")
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = audit_store.search(AlertQuery(tenant_ids=None, size=7, with_total=False, sort="asc", cursor=cursor))
        assert page.total is None
        seen += page.hits
        cursor = page.next_cursor
        if cursor is None:
            break
    assert ids(seen) == ids(expected(DOCS, query))
    assert set(TENANTS) == {d["tenant"]["id"] for d in seen}


def test_sqlite_schema_v1_is_migrated(tmp_path: Path) -> None:
    """A store written by the previous release gains the triage and flow columns, filled from the
    documents already there."""
    path = tmp_path / "old.db"
    doc = make_alert(tenant_id="a", flow_id="99", module="ips")
    triaged = make_alert(tenant_id="a")
    triaged["triage"] = {"status": "closed", "comment": "old", "by": "x", "at": "2026-11-01T00:00:00Z"}
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE alerts (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, event_id TEXT NOT NULL,
          ts INTEGER NOT NULL, module TEXT NOT NULL, action TEXT NOT NULL, severity INTEGER NOT NULL,
          rule_id TEXT NOT NULL, rule_name TEXT, source_ip TEXT, source_ip_key BLOB, vpc_id TEXT,
          service_name TEXT, trace_id TEXT, doc TEXT NOT NULL, UNIQUE (tenant_id, event_id));
        PRAGMA user_version=1;""")
    for i, d in enumerate((doc, triaged)):
        conn.execute("INSERT INTO alerts (tenant_id, event_id, ts, module, action, severity, rule_id, doc)"
                     " VALUES (?,?,?,?,?,?,?,?)", ("a", d["event"]["id"], to_ms(ts(d)) + i, d["event"]["module"],
                                                   "blocked", 3, d["rule"]["id"], json.dumps(d)))
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    try:
        store.ensure_ready()
        assert [h["event"]["id"] for h in store.search(AlertQuery(tenant_ids=None, flow_id="99")).hits] == [
            doc["event"]["id"]]
        assert [h["event"]["id"] for h in store.search(AlertQuery(tenant_ids=None, status="closed")).hits] == [
            triaged["event"]["id"]]
        assert store.search(AlertQuery(tenant_ids=None, status="open")).total == 1
    finally:
        store.close()
