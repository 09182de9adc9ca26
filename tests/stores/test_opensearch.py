"""OpenSearch backend specifics: index layout, template, retries against real sockets."""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.stores import AlertQuery, StoreError, StoreUnavailable, open_store
from shared.stores.opensearch import OpenSearchStore
from shared.runtime.ports import free_port
from shared.stores.opensearch_layout import index_name, parse_index_name, tenant_pattern, tenant_token
from tests.plugins.stores import make_alert

# alert.schema.json's tenant id: ^[A-Za-z0-9._:@/-]+$, 1..128 characters.
tenant_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@/-",
                     min_size=1, max_size=128)
_VALID_INDEX = re.compile(r"^[a-z0-9][a-z0-9._+-]*$")


@given(st.lists(tenant_ids, min_size=2, max_size=20, unique=True))
def test_tenant_tokens_are_safe_and_distinct(ids: list[str]) -> None:
    tokens = [tenant_token(t) for t in ids]
    assert len(set(tokens)) == len(tokens)
    for tenant, token in zip(ids, tokens):
        assert "-" not in token
        name = index_name(tenant, "2026.11.27")
        assert _VALID_INDEX.match(name) and len(name.encode()) <= 255
        assert parse_index_name(name) == (token, parse_index_name(name)[1])  # type: ignore[index]


def test_prefix_tenant_patterns_do_not_overlap() -> None:
    assert not re.fullmatch(tenant_pattern("a").replace("*", ".*"), index_name("a-b", "2026.11.27"))
    assert tenant_token("Dept.B") == "_44ept_2e_42"


def test_template_maps_fields_and_routes_by_alert_day(opensearch_store: OpenSearchStore) -> None:
    doc = make_alert(tenant_id="Dept.B", source_ip="2001:db8::1", timestamp="2026-11-25T23:59:59.999Z")
    assert opensearch_store.bulk_index([doc]).indexed == 1
    opensearch_store.refresh()
    name = "secchain-alerts-_44ept_2e_42-2026.11.25"
    mapping = opensearch_store.client.indices.get_mapping(index=name)[name]["mappings"]["properties"]
    assert mapping["source"]["properties"]["ip"]["type"] == "ip"
    assert mapping["@timestamp"]["type"] == "date"
    assert mapping["event"]["properties"]["id"]["type"] == "keyword"
    assert mapping["rule"]["properties"]["name"]["type"] == "text"
    assert mapping["matched"]["properties"]["data"]["type"] == "text"
    stored = opensearch_store.client.get(index=name, id=doc["event"]["id"])
    assert stored["_source"] == doc


def test_retention_drops_whole_old_indices(opensearch_store: OpenSearchStore) -> None:
    docs = [make_alert(tenant_id=t, timestamp=f"2026-11-{d}T12:00:00.000Z") for t in ("a", "b") for d in (24, 25, 26)]
    opensearch_store.bulk_index(docs)
    opensearch_store.refresh()
    assert opensearch_store.delete_older_than(datetime(2026, 11, 26, tzinfo=timezone.utc), "a") == 2
    names = {row["index"] for row in opensearch_store.client.cat.indices(format="json", h="index")}
    assert names == {"secchain-alerts-a-2026.11.26", "secchain-alerts-b-2026.11.24", "secchain-alerts-b-2026.11.25",
                     "secchain-alerts-b-2026.11.26"}


def test_many_tenants_fall_back_to_filter_only(opensearch_store: OpenSearchStore) -> None:
    docs = [make_alert(tenant_id=f"t{i}", timestamp="2026-11-27T10:00:00.000Z") for i in range(50)]
    opensearch_store.bulk_index(docs)
    opensearch_store.refresh()
    wanted = tuple(f"t{i}" for i in range(0, 50, 1) if i != 7)  # 49 tenants: more than fit in a URL
    page = opensearch_store.search(AlertQuery(tenant_ids=wanted, size=1000))
    assert page.total == 49 and "t7" not in {h["tenant"]["id"] for h in page.hits}


def test_open_store_url(osmem_clone: Any) -> None:
    store = open_store(f"opensearch+{osmem_clone.url}?timeout=5&retries=1")
    assert isinstance(store, OpenSearchStore) and store.ping()
    store.close()


def test_unreachable_cluster_is_unavailable() -> None:
    store = OpenSearchStore(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.01, timeout=2)
    assert store.ping() is False
    with pytest.raises(StoreUnavailable, match="after 3 attempts") as err:
        store.bulk_index([make_alert()])
    assert isinstance(err.value, ConnectionError)
    store.close()


class FaultProxy:
    """A real HTTP proxy in front of osmem that answers the first ``failures`` requests whose path
    matches ``path`` with ``status``, then forwards everything."""

    def __init__(self, upstream: str, path: str, status: int, failures: int, per_item: bool = False) -> None:
        self.upstream = urlsplit(upstream)
        self.path, self.status, self.failures, self.per_item = path, status, failures, per_item
        self.seen = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    fail = proxy.path in self.path and proxy.seen < proxy.failures
                    proxy.seen += proxy.path in self.path
                rejected = None
                if fail and proxy.per_item:
                    # Reject the first document the way a full write queue does: it is not
                    # forwarded, and its item in the bulk response says 429.
                    lines = body.split(b"\n")
                    rejected, body, fail = lines[:2], b"\n".join(lines[2:]), False
                if fail:
                    payload = (b'{"error":{"root_cause":[{"type":"injected","reason":"fault"}],'
                               b'"type":"injected","reason":"fault"},"status":%d}' % proxy.status)
                    self.send_response(proxy.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "content-length")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                response = conn.getresponse()
                data = response.read()
                conn.close()
                if rejected is not None:
                    decoded = json.loads(data)
                    action = json.loads(rejected[0])["create"]
                    decoded["items"].insert(0, {"create": {**action, "status": proxy.status, "error": {
                        "type": "rejected_execution_exception", "reason": "write queue full"}}})
                    decoded["errors"] = True
                    data = json.dumps(decoded).encode()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def fault_proxy(osmem_clone: Any) -> Iterator[Any]:
    proxies: list[FaultProxy] = []

    def make(path: str, status: int, failures: int, per_item: bool = False) -> FaultProxy:
        proxies.append(FaultProxy(osmem_clone.url, path, status, failures, per_item))
        return proxies[-1]

    yield make
    for proxy in proxies:
        proxy.close()


@pytest.mark.parametrize("status", [429, 503])
def test_bulk_retries_transient_errors(fault_proxy: Any, status: int) -> None:
    proxy = fault_proxy("/_bulk", status, failures=2)
    store = OpenSearchStore(proxy.url, retries=3, backoff=0.01)
    store.ensure_ready()
    result = store.bulk_index([make_alert(), make_alert()])
    assert (result.indexed, result.failed) == (2, [])
    assert proxy.seen == 3
    store.close()


def test_bulk_gives_up_as_unavailable(fault_proxy: Any) -> None:
    proxy = fault_proxy("/_bulk", 429, failures=100)
    store = OpenSearchStore(proxy.url, retries=2, backoff=0.01)
    with pytest.raises(StoreUnavailable, match="HTTP 429: injected: fault") as err:
        store.bulk_index([make_alert()])
    assert "after 3 attempts" in str(err.value) and proxy.seen == 3
    store.close()


def test_client_errors_are_not_retried(fault_proxy: Any) -> None:
    proxy = fault_proxy("/_search", 400, failures=100)
    store = OpenSearchStore(proxy.url, retries=3, backoff=0.01)
    with pytest.raises(StoreError) as err:
        store.search(AlertQuery(tenant_ids=("a",)))
    assert not isinstance(err.value, StoreUnavailable) and proxy.seen == 1
    assert "HTTP 400: injected: fault" in str(err.value)
    store.close()


def test_bulk_retries_only_rejected_items(fault_proxy: Any) -> None:
    proxy = fault_proxy("/_bulk", 429, failures=2, per_item=True)
    store = OpenSearchStore(proxy.url, retries=3, backoff=0.01)
    store.ensure_ready()
    docs = [make_alert(timestamp="2026-11-27T10:00:00.000Z") for _ in range(3)]
    result = store.bulk_index(docs)
    # Attempt 1 stores docs 2 and 3, attempt 2 is rejected again, attempt 3 stores doc 1.
    assert (result.indexed, result.duplicates, result.failed) == (3, 0, [])
    assert proxy.seen == 3
    store.refresh()
    assert store.search(AlertQuery(tenant_ids=None)).total == 3
    store.close()


def test_permanent_item_errors_are_reported(opensearch_store: OpenSearchStore) -> None:
    # An index the template does not cover, with a conflicting mapping, makes OpenSearch reject
    # the item with a 400 mapper_parsing_exception: a permanent failure, reported not retried.
    doc = make_alert(tenant_id="x", timestamp="2026-11-27T10:00:00.000Z")
    opensearch_store.client.indices.delete_index_template(name="secchain-alerts")
    opensearch_store.client.indices.create(index="secchain-alerts-x-2026.11.27",
                                           body={"mappings": {"properties": {"rule": {"type": "integer"}}}})
    result = opensearch_store.bulk_index([doc])
    assert result.indexed == 0
    assert len(result.failed) == 1 and result.failed[0][0] == doc["event"]["id"]
    assert result.failed[0][1].startswith("HTTP 400")
