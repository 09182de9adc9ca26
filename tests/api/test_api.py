"""The audit search API over real HTTP, on both store backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from services.api.app import ApiState, make_app
from shared.config.tenancy import hash_key
from shared.runtime.ports import free_port
from shared.stores import AuditStore, open_store
from tests.plugins.stores import make_alert

KEYS = {"a": "key-analyst-a", "b": "key-analyst-b", "admin_a": "key-admin-a", "provider": "key-provider"}


def write_tenancy(path: Path) -> Path:
    path.write_text(yaml.safe_dump({
        "tenants": [{"id": "a"}, {"id": "b"}],
        "api_keys": [
            {"id": "an-a", "tenant": "a", "role": "analyst", "sha256": hash_key(KEYS["a"])},
            {"id": "an-b", "tenant": "b", "role": "analyst", "sha256": hash_key(KEYS["b"])},
            {"id": "ad-a", "tenant": "a", "role": "tenant-admin", "sha256": hash_key(KEYS["admin_a"])},
            {"id": "prov", "role": "provider-admin", "sha256": hash_key(KEYS["provider"])},
        ],
    }))
    return path


class Api:
    def __init__(self, server: TestServer, session: ClientSession) -> None:
        self.server, self.session = server, session

    async def get(self, path: str, key: str | None = None) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with self.session.get(self.server.make_url(path), headers=headers) as resp:
            return resp.status, await resp.json()


async def start_api(tmp_path: Path, store: AuditStore) -> tuple[TestServer, ClientSession]:
    state = ApiState(write_tenancy(tmp_path / "tenancy.yaml"), store, CollectorRegistry())
    server = TestServer(make_app(state), host="127.0.0.1", port=free_port())
    await server.start_server()
    return server, ClientSession()


@pytest.fixture
async def api(tmp_path: Path, audit_store: AuditStore) -> AsyncIterator[Api]:
    docs = [make_alert(tenant_id="a", rule_id="942100", source_ip="198.51.100.7", severity=1),
            make_alert(tenant_id="a", rule_id="941100", source_ip="198.51.100.8", severity=2, module="waf"),
            make_alert(tenant_id="b", rule_id="930100", source_ip="203.0.113.5", severity=1)]
    result = audit_store.bulk_index(docs)
    assert result.indexed == 3
    audit_store.refresh()
    server, session = await start_api(tmp_path, audit_store)
    try:
        yield Api(server, session)
    finally:
        await session.close()
        await server.close()


async def test_analyst_sees_only_own_tenant(api: Api) -> None:
    status, body = await api.get("/v1/alerts", KEYS["a"])
    assert status == 200
    assert body["total"] == 2 and {h["tenant"]["id"] for h in body["hits"]} == {"a"}
    status, body = await api.get("/v1/alerts", KEYS["b"])
    assert body["total"] == 1 and body["hits"][0]["tenant"]["id"] == "b"
    status, stats = await api.get("/v1/alerts/stats", KEYS["b"])
    assert status == 200 and stats["total"] == 1
    assert [r["rule_id"] for r in stats["top_rules"]] == ["930100"]


async def test_tenant_key_naming_another_tenant_is_refused(api: Api) -> None:
    status, body = await api.get("/v1/alerts?tenant=b", KEYS["a"])
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = await api.get("/v1/alerts?tenant=a", KEYS["admin_a"])
    assert status == 200 and body["total"] == 2


async def test_provider_sees_all_and_can_filter_by_tenant(api: Api) -> None:
    status, body = await api.get("/v1/alerts", KEYS["provider"])
    assert status == 200 and body["total"] == 3
    status, body = await api.get("/v1/alerts?tenant=b", KEYS["provider"])
    assert body["total"] == 1


async def test_get_by_event_id_is_scoped(api: Api) -> None:
    _, body = await api.get("/v1/alerts", KEYS["b"])
    event_id = body["hits"][0]["event"]["id"]
    status, doc = await api.get(f"/v1/alerts/{event_id}", KEYS["b"])
    assert status == 200 and doc["event"]["id"] == event_id
    status, doc = await api.get(f"/v1/alerts/{event_id}", KEYS["a"])
    assert status == 404


async def test_filters_and_pagination(api: Api) -> None:
    status, body = await api.get("/v1/alerts?rule_id=941100", KEYS["a"])
    assert body["total"] == 1 and body["hits"][0]["rule"]["id"] == "941100"
    status, body = await api.get("/v1/alerts?source_ip=198.51.100.0/24&severity=1", KEYS["a"])
    assert body["total"] == 1
    status, page1 = await api.get("/v1/alerts?size=1", KEYS["a"])
    assert len(page1["hits"]) == 1 and page1["next_cursor"]
    status, page2 = await api.get(f"/v1/alerts?size=1&cursor={page1['next_cursor']}", KEYS["a"])
    assert status == 200 and len(page2["hits"]) == 1
    assert page1["hits"][0]["event"]["id"] != page2["hits"][0]["event"]["id"]


@pytest.mark.parametrize("path,param", [
    ("/v1/alerts?size=0", "size"), ("/v1/alerts?from=tomorrowish", "from"), ("/v1/alerts?nope=1", "nope"),
    ("/v1/alerts?size=1&size=2", "size"), ("/v1/alerts/stats?top=1000", "top"), ("/v1/alerts/stats?size=5", "size"),
    ("/v1/alerts/stats?interval=3x", "interval"),
])
async def test_bad_parameters_are_400_naming_the_parameter(api: Api, path: str, param: str) -> None:
    status, body = await api.get(path, KEYS["a"])
    assert status == 400, body
    assert body["error"] == {"code": "invalid_parameter", "message": body["error"]["message"], "parameter": param}
    assert repr(param) in body["error"]["message"]


async def test_missing_and_invalid_keys_are_401(api: Api) -> None:
    for key in (None, "wrong"):
        status, body = await api.get("/v1/alerts", key)
        assert status == 401 and body["error"]["code"] == "unauthenticated"


async def test_ops_routes_need_no_key(api: Api) -> None:
    for path in ("/healthz", "/readyz"):
        async with api.session.get(api.server.make_url(path)) as resp:
            assert resp.status == 200
    async with api.session.get(api.server.make_url("/metrics")) as resp:
        assert "secchain_api_requests_total" in await resp.text()


async def test_unreachable_store_is_503_and_not_ready(tmp_path: Path) -> None:
    store = open_store(f"opensearch+http://127.0.0.1:{free_port()}?retries=0&timeout=1")
    server, session = await start_api(tmp_path, store)
    try:
        api = Api(server, session)
        status, body = await api.get("/v1/alerts", KEYS["a"])
        assert status == 503 and body["error"]["code"] == "store_unavailable"
        status, body = await api.get("/readyz")
        assert status == 503
    finally:
        await session.close()
        await server.close()
        store.close()
