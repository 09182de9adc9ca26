"""The API behind the SOC console, over real HTTP on both store backends: who am I, triage,
groups, streamed export, and the console's static files and headers."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from shared.stores import AuditStore
from shared.stores.sqlite import SqliteStore
from tests.api.test_api import KEYS, Api, start_api
from tests.plugins.stores import make_alert


@pytest.fixture
async def api(tmp_path: Path, audit_store: AuditStore) -> AsyncIterator[Api]:
    docs = [make_alert(tenant_id="a", rule_id="942100", source_ip="198.51.100.7", severity=1, service_name="shop",
                       matched_data="=HYPERLINK(\"http://x\")", trace_id="t-1"),
            make_alert(tenant_id="a", rule_id="942100", source_ip="198.51.100.7", severity=1, service_name="shop"),
            make_alert(tenant_id="a", rule_id="941100", source_ip="198.51.100.8", severity=2, service_name="portal",
                       trace_id="t-1", module="av", file_name="eicar.com"),
            make_alert(tenant_id="b", rule_id="930100", source_ip="203.0.113.5", severity=1, service_name="intranet")]
    assert audit_store.bulk_index(docs).indexed == 4
    audit_store.refresh()
    server, session = await start_api(tmp_path, audit_store)
    try:
        yield Api(server, session)
    finally:
        await session.close()
        await server.close()


async def post(api: Api, path: str, key: str, body: Any) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with api.session.post(api.server.make_url(path), data=data,
                                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"}) as resp:
        return resp.status, await resp.json()


async def raw(api: Api, path: str, key: str) -> tuple[int, dict[str, str], bytes]:
    async with api.session.get(api.server.make_url(path), headers={"Authorization": f"Bearer {key}"}) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def test_me_names_the_key_and_its_tenants(api: Api) -> None:
    status, me = await api.get("/v1/me", KEYS["a"])
    assert status == 200 and me == {"key": "an-a", "role": "analyst", "tenant": "a", "tenants": [{"id": "a", "name": "a"}]}
    status, me = await api.get("/v1/me", KEYS["provider"])
    assert me["role"] == "provider-admin" and me["tenant"] is None
    assert [t["id"] for t in me["tenants"]] == ["a", "b"]
    status, _ = await api.get("/v1/me", "nope")
    assert status == 401


async def test_triage_flow_records_the_key_and_filters_by_status(api: Api) -> None:
    _, body = await api.get("/v1/alerts?rule_id=941100", KEYS["a"])
    event_id = body["hits"][0]["event"]["id"]
    status, doc = await post(api, f"/v1/alerts/{event_id}/triage", KEYS["a"], {"status": "acknowledged"})
    assert status == 200 and doc["triage"]["status"] == "acknowledged" and doc["triage"]["by"] == "an-a"
    status, err = await post(api, f"/v1/alerts/{event_id}/triage", KEYS["admin_a"], {"status": "closed"})
    assert status == 400 and err["error"]["parameter"] == "comment"
    status, doc = await post(api, f"/v1/alerts/{event_id}/triage", KEYS["admin_a"],
                             {"status": "closed", "comment": "known scanner"})
    assert status == 200 and [h["by"] for h in doc["triage"]["history"]] == ["an-a", "ad-a"]
    _, closed = await api.get("/v1/alerts?status=closed", KEYS["a"])
    assert [h["event"]["id"] for h in closed["hits"]] == [event_id]
    _, still_open = await api.get("/v1/alerts?status=open", KEYS["a"])
    assert still_open["total"] == 2
    _, stats = await api.get("/v1/alerts/stats?status=closed", KEYS["a"])
    assert stats["total"] == 1


async def test_triage_cannot_reach_another_tenant(api: Api) -> None:
    _, body = await api.get("/v1/alerts", KEYS["b"])
    event_id = body["hits"][0]["event"]["id"]
    status, err = await post(api, f"/v1/alerts/{event_id}/triage", KEYS["a"], {"status": "acknowledged"})
    assert status == 404 and err["error"]["code"] == "not_found"
    status, _ = await post(api, f"/v1/alerts/{event_id}/triage?tenant=b", KEYS["a"], {"status": "acknowledged"})
    assert status == 403
    _, doc = await api.get(f"/v1/alerts/{event_id}", KEYS["b"])
    assert "triage" not in doc
    status, doc = await post(api, f"/v1/alerts/{event_id}/triage", KEYS["provider"], {"status": "acknowledged"})
    assert status == 200 and doc["triage"]["by"] == "prov"


@pytest.mark.parametrize("body,param", [({"status": "escalated"}, "status"), ({}, "status"),
                                        ({"status": "open", "assignee": "x"}, "assignee"),
                                        ({"status": "acknowledged", "comment": 5}, "comment")])
async def test_bad_triage_bodies_are_400(api: Api, body: dict[str, Any], param: str) -> None:
    _, page = await api.get("/v1/alerts", KEYS["a"])
    status, err = await post(api, f"/v1/alerts/{page['hits'][0]['event']['id']}/triage", KEYS["a"], body)
    assert status == 400 and err["error"]["parameter"] == param, err


async def test_triage_body_must_be_json(api: Api) -> None:
    _, page = await api.get("/v1/alerts", KEYS["a"])
    status, err = await post(api, f"/v1/alerts/{page['hits'][0]['event']['id']}/triage", KEYS["a"], b"status=open")
    assert status == 400 and err["error"]["code"] == "invalid_body"


async def test_groups(api: Api) -> None:
    status, body = await api.get("/v1/alerts/groups?by=rule,source", KEYS["a"])
    assert status == 200 and body["by"] == ["rule", "source"]
    assert [(g["key"], g["count"]) for g in body["groups"]] == [
        ({"rule_id": "942100", "source_ip": "198.51.100.7"}, 2), ({"rule_id": "941100", "source_ip": "198.51.100.8"}, 1)]
    status, body = await api.get("/v1/alerts/groups?by=tenant", KEYS["provider"])
    assert [(g["key"]["tenant_id"], g["count"]) for g in body["groups"]] == [("a", 3), ("b", 1)]
    status, err = await api.get("/v1/alerts/groups?by=colour", KEYS["a"])
    assert status == 400 and err["error"]["parameter"] == "by"


async def test_stats_have_top_targets(api: Api) -> None:
    _, stats = await api.get("/v1/alerts/stats", KEYS["a"])
    assert stats["top_targets"] == [{"service_name": "shop", "count": 2}, {"service_name": "portal", "count": 1}]


async def test_related_alerts_by_trace_id(api: Api) -> None:
    _, body = await api.get("/v1/alerts?trace_id=t-1", KEYS["a"])
    assert sorted(h["event"]["module"] for h in body["hits"]) == ["av", "waf"]


async def test_export_csv_and_ndjson(api: Api) -> None:
    status, headers, data = await raw(api, "/v1/alerts/export?format=csv&rule_id=942100", KEYS["a"])
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert "attachment" in headers["Content-Disposition"] and headers.get("Transfer-Encoding") == "chunked"
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert len(rows) == 2 and {r["rule.id"] for r in rows} == {"942100"} and {r["tenant.id"] for r in rows} == {"a"}
    # A payload a spreadsheet would run as a formula is defused.
    assert "'=HYPERLINK(\"http://x\")" in {r["matched.data"] for r in rows}
    status, headers, data = await raw(api, "/v1/alerts/export?format=ndjson&sort=asc", KEYS["provider"])
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert len(lines) == 4 and headers["Content-Type"] == "application/x-ndjson"
    assert [d["@timestamp"] for d in lines] == sorted(d["@timestamp"] for d in lines)
    status, err = await api.get("/v1/alerts/export?format=xlsx", KEYS["a"])
    assert status == 400 and err["error"]["parameter"] == "format"
    status, err = await api.get("/v1/alerts/export?format=csv&tenant=b", KEYS["a"])
    assert status == 403


async def test_console_is_served_with_a_strict_policy(api: Api) -> None:
    async with api.session.get(api.server.make_url("/console"), allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"] == "/console/"
    async with api.session.get(api.server.make_url("/console/")) as resp:
        page = await resp.text()
        assert resp.status == 200 and '<script type="module" src="/console/assets/main.js">' in page
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert resp.headers["X-Frame-Options"] == "DENY"
    for asset in ("main.js", "api.js", "views/list.js", "views/detail.js", "console.css"):
        async with api.session.get(api.server.make_url(f"/console/assets/{asset}")) as resp:
            assert resp.status == 200, asset
    async with api.session.get(api.server.make_url("/console/assets/../app.py")) as resp:
        assert resp.status in (403, 404)


async def test_console_preloads_every_module(api: Api) -> None:
    """The page names every module it imports, so the browser fetches them in one round instead
    of discovering them one import level at a time; a module added later must be listed too."""
    import re

    from services.api.console import STATIC

    async with api.session.get(api.server.make_url("/console/")) as resp:
        page = await resp.text()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/console/assets/([^"]+)">', page))
    modules = {p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*.js")} - {"main.js"}
    assert preloaded == modules
    for module in preloaded:
        async with api.session.get(api.server.make_url(f"/console/assets/{module}")) as resp:
            assert resp.status == 200, module


async def test_export_walks_past_ten_thousand_hits(tmp_path: Path, sqlite_store: SqliteStore) -> None:
    """The whole result, paged with the cursor: no 10,000-hit window (OpenSearch's
    index.max_result_window for from/size paging)."""
    docs = [make_alert(tenant_id="a", rule_id="942100", timestamp=f"2026-11-27T10:{i // 6000:02d}:"
                       f"{i // 100 % 60:02d}.{i % 100:03d}Z") for i in range(10_050)]
    assert sqlite_store.bulk_index(docs).indexed == len(docs)
    server, session = await start_api(tmp_path, sqlite_store)
    try:
        status, _, data = await raw(Api(server, session), "/v1/alerts/export?format=ndjson", KEYS["a"])
    finally:
        await session.close()
        await server.close()
    ids = [json.loads(line)["event"]["id"] for line in data.splitlines()]
    assert status == 200 and len(ids) == len(set(ids)) == 10_050
