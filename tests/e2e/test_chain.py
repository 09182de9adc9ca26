"""End to end: client -> WAF -> upstream, alerts -> Kafka -> indexer -> store -> audit API."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import socket
import time
import urllib.request

import pytest

from shared.events import validate_alert
from tests.e2e.conftest import Chain

SQLI = "/?id=1%27%20OR%20%271%27=%271"


def waf_request(chain: Chain, method: str, path: str, *, host: str, headers: list[tuple[str, str]] = (),
                body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", chain.ports.waf, timeout=15)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def raw_exchange(chain: Chain, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", chain.ports.waf), timeout=10) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)


def find_by_trace(chain: Chain, key: str, trace_id: str, timeout: float = 15.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = chain.api_get("/v1/alerts?from=now-1h&size=1000", key)
        assert status == 200, body
        hits = [h for h in body["hits"] if h.get("trace", {}).get("id") == trace_id]
        if hits:
            return hits
        time.sleep(0.2)
    return []


def test_attack_is_blocked_and_becomes_searchable(chain: Chain) -> None:
    status, headers, body = waf_request(chain, "GET", SQLI, host="acme.local")
    assert status == 403
    request_id = headers["x-request-id"]
    assert request_id.encode() in body
    hits = find_by_trace(chain, chain.keys["acme"], request_id)
    assert hits, "the blocked request's alert never became searchable"
    for hit in hits:
        validate_alert(hit)
        assert hit["tenant"]["id"] == "acme"
        assert hit["vpc"]["id"] == "vpc-a"
        assert hit["service"]["name"] == "acme-web"
        assert hit["event"]["module"] == "waf"
        assert hit["event"]["action"] == "blocked"
        assert hit["source"]["ip"] == "127.0.0.1"
        assert hit["url"]["original"] == SQLI
        assert hit["http"]["response"]["status_code"] == 403
        assert hit["rule"]["ruleset"].startswith("core@")
    assert any("sqli" in " ".join(h.get("tags", [])).lower() for h in hits)


def test_detect_mode_forwards_and_alerts(chain: Chain) -> None:
    status, headers, body = waf_request(chain, "GET", SQLI, host="beta.local")
    assert status == 200
    assert json.loads(body)["path"] == SQLI
    hits = find_by_trace(chain, chain.keys["beta"], headers["x-request-id"])
    assert hits and all(h["event"]["action"] == "alerted" for h in hits)
    assert all(h["tenant"]["id"] == "beta" for h in hits)


def test_benign_request_reaches_upstream_untouched_and_creates_no_alert(chain: Chain) -> None:
    payload = bytes(range(256)) * 4 + "naïve café O'Brien".encode()
    sent_headers = [("Content-Type", "application/octet-stream"), ("X-Custom", "one"), ("x-custom", "two"),
                    ("Accept", "*/*"), ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0")]
    path = "/api/v1/items/42?sort=name&q=O%27Brien%20%26%20sons&empty="
    status, headers, body = waf_request(chain, "PUT", path, host="acme.local", headers=sent_headers, body=payload)
    assert status == 200, body
    echo = json.loads(body)
    assert echo["method"] == "PUT"
    assert echo["path"] == path
    assert echo["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert base64.b64decode(echo["body_b64"]) == payload
    got = [(k, v) for k, v in echo["headers"]]
    # The client's headers arrive in order and spelling; the WAF adds only X-Forwarded-*.
    forwarded = [h for h in got if not h[0].lower().startswith("x-forwarded-")
                 and h[0].lower() not in ("content-length", "connection")]
    # A repeated field name arrives in its first spelling (names are case-insensitive, RFC 9110 5.1).
    assert forwarded == [("Host", "acme.local")] + [(n if n != "x-custom" else "X-Custom", v) for n, v in sent_headers]
    assert ("X-Forwarded-For", "127.0.0.1") in got
    assert ("X-Forwarded-Proto", "http") in got
    assert ("Content-Length", str(len(payload))) in got
    assert headers["x-echo"] == "secchain-demo"
    benign_id = headers["x-request-id"]
    # Alerts of one tenant travel in order on one partition: once a later attack is searchable,
    # an alert for the benign request would be too.
    status, headers, _ = waf_request(chain, "GET", SQLI, host="acme.local")
    assert status == 403
    assert find_by_trace(chain, chain.keys["acme"], headers["x-request-id"])
    assert find_by_trace(chain, chain.keys["acme"], benign_id, timeout=0.5) == []


def test_tenant_isolation_in_search_stats_and_get(chain: Chain) -> None:
    status, headers, _ = waf_request(chain, "GET", SQLI + "&isolation=1", host="acme.local")
    assert status == 403
    acme_hits = find_by_trace(chain, chain.keys["acme"], headers["x-request-id"])
    assert acme_hits
    status, body = chain.api_get("/v1/alerts?from=now-1h&size=1000", chain.keys["beta"])
    assert status == 200
    assert all(h["tenant"]["id"] == "beta" for h in body["hits"])
    status, stats = chain.api_get("/v1/alerts/stats?from=now-1h", chain.keys["beta"])
    assert status == 200
    beta_total = body["total"]
    assert stats["total"] == beta_total
    status, body = chain.api_get("/v1/alerts?from=now-1h&tenant=acme", chain.keys["beta"])
    assert status == 403
    status, body = chain.api_get(f"/v1/alerts/{acme_hits[0]['event']['id']}", chain.keys["beta"])
    assert status == 404
    status, body = chain.api_get(f"/v1/alerts/{acme_hits[0]['event']['id']}", chain.keys["acme"])
    assert status == 200 and body["event"]["id"] == acme_hits[0]["event"]["id"]
    status, body = chain.api_get("/v1/alerts?from=now-1h&size=1000", chain.keys["provider"])
    assert status == 200
    assert {h["tenant"]["id"] for h in body["hits"]} >= {"acme"}
    status, body = chain.api_get("/v1/alerts?from=now-1h&tenant=beta&size=1000", chain.keys["provider"])
    assert status == 200 and all(h["tenant"]["id"] == "beta" for h in body["hits"])


def test_stats_answer_top_rules_sources_and_histogram(chain: Chain) -> None:
    status, headers, _ = waf_request(chain, "GET", SQLI + "&stats=1", host="acme.local")
    assert status == 403
    assert find_by_trace(chain, chain.keys["acme"], headers["x-request-id"])
    status, stats = chain.api_get("/v1/alerts/stats?from=now-1h&top=5", chain.keys["acme"])
    assert status == 200, stats
    assert stats["total"] >= 1
    assert stats["top_sources"][0]["source_ip"] == "127.0.0.1"
    assert stats["top_rules"] and sum(b["count"] for b in stats["histogram"]) == stats["total"]


@pytest.mark.parametrize("header,expect", [
    (None, "missing Authorization"),
    ("Basic dXNlcjpwYXNz", "Bearer"),
    ("Bearer not-a-key", "invalid API key"),
])
def test_api_rejects_missing_or_invalid_keys(chain: Chain, header: str | None, expect: str) -> None:
    req = urllib.request.Request(chain.api + "/v1/alerts")
    if header:
        req.add_header("Authorization", header)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)
    assert info.value.code == 401
    body = json.loads(info.value.read())
    assert expect in body["error"]["message"]


@pytest.mark.parametrize("query,param", [
    ("size=abc", "size"), ("size=100000", "size"), ("from=yesterday-ish", "from"),
    ("severity=9", "severity"), ("module=dns", "module"), ("bogus=1", "bogus"), ("cursor=%%%", "cursor"),
])
def test_api_rejects_malformed_parameters_naming_them(chain: Chain, query: str, param: str) -> None:
    status, body = chain.api_get(f"/v1/alerts?{query}", chain.keys["acme"])
    assert status == 400, body
    assert body["error"]["parameter"] == param
    assert param in body["error"]["message"]


@pytest.mark.parametrize("raw", [
    b"GET / HTTP/1.1\r\nHost acme.local\r\n\r\n",                                        # header without colon
    b"GET / HTTP/1.1\r\nHost: acme.local\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: acme.local\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    b"GET / HTTP/1.1\r\nHost: acme.local\r\nX-Folded: a\r\n  b\r\n\r\n",                    # obsolete line folding
    b"GET /\x01 HTTP/1.1\r\nHost: acme.local\r\n\r\n",                                 # control byte in target
    b"GET / HTTP/1.1\r\nHost: acme.local\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: acme.local\r\nHost: beta.local\r\n\r\n",                  # two Host headers
])
def test_malformed_or_ambiguous_http_gets_400(chain: Chain, raw: bytes) -> None:
    # Smuggling defences (RFC 9112 sections 6.1, 6.3, 5.2): aiohttp's llhttp parser rejects these
    # before the WAF sees them; this test keeps it that way across upgrades.
    status_line = raw_exchange(chain, raw).split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.") and b" 400 " in status_line, status_line


def test_oversized_bodies_get_413(chain: Chain) -> None:
    status, _, _ = waf_request(chain, "POST", "/upload", host="acme.local", body=b"x" * 70000)
    assert status == 413
    chunked = b"".join(b"%x\r\n%s\r\n" % (8192, b"y" * 8192) for _ in range(10)) + b"0\r\n\r\n"
    answer = raw_exchange(chain, b"POST /upload HTTP/1.1\r\nHost: acme.local\r\nTransfer-Encoding: chunked\r\n\r\n"
                          + chunked)
    assert b" 413 " in answer.split(b"\r\n", 1)[0], answer[:200]


def test_unknown_host_and_dead_upstream(chain: Chain) -> None:
    status, headers, _ = waf_request(chain, "GET", "/", host="nobody.example")
    assert status == 404
    status, headers, _ = waf_request(chain, "GET", "/", host="dead.acme.local")
    assert status == 502 and headers["x-request-id"]


def test_every_service_answers_health_ready_and_metrics(chain: Chain) -> None:
    for port in (chain.ports.api, chain.ports.waf_admin, chain.ports.indexer):
        for path in ("/healthz", "/readyz"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
                assert resp.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            assert b"# TYPE" in resp.read()
    with urllib.request.urlopen(f"{chain.admin}/metrics", timeout=5) as resp:
        assert b"secchain_waf_requests_total" in resp.read()


def test_bad_seclang_reload_is_rejected_and_previous_rules_keep_serving(chain: Chain) -> None:
    import yaml

    manifest = yaml.safe_load((chain.rules_root / "core" / "manifest.yaml").read_text())
    first = chain.rules_root / "core" / manifest["files"][0]
    original = first.read_text()
    lines = original.count("\n")
    broken = original + ('\nSecRule ARGS "@rxx foo" "id:1099990,phase:2,deny"\n' if original.endswith("\n")
                         else 'SecRule ARGS "@rxx foo" "id:1099990,phase:2,deny"\n')
    first.write_text(broken)
    try:
        req = urllib.request.Request(chain.admin + "/reload", method="POST")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=30)
        assert info.value.code == 422
        message = json.loads(info.value.read())["error"]["message"]
        assert f"{first.name}:" in message and "@rxx" in message
        assert f":{lines + 2}:" in message or f":{lines + 1}:" in message
        status, _, _ = waf_request(chain, "GET", SQLI, host="acme.local")
        assert status == 403, "the previous rules must keep serving after a rejected reload"
    finally:
        first.write_text(original)
    with urllib.request.urlopen(urllib.request.Request(chain.admin + "/reload", method="POST"), timeout=60) as resp:
        assert resp.status == 200
    status, _, _ = waf_request(chain, "GET", SQLI, host="acme.local")
    assert status == 403


def test_infected_upload_is_blocked_and_its_alert_is_searchable_by_trace_id(chain: Chain) -> None:
    from tests.av.samples import eicar

    boundary = "----secchain-e2e"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nquarterly\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"invoice.com\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + eicar() + f"\r\n--{boundary}--\r\n".encode()
    status, headers, _ = waf_request(chain, "POST", "/upload", host="acme.local",
                                     headers=[("Content-Type", f"multipart/form-data; boundary={boundary}")], body=body)
    assert status == 403
    hits = find_by_trace(chain, chain.keys["acme"], headers["x-request-id"])
    av = [h for h in hits if h["event"]["module"] == "av"]
    assert av and av[0]["file"]["name"] == "invoice.com" and av[0]["event"]["action"] == "blocked"
    assert av[0]["tenant"]["id"] == "acme" and av[0]["service"]["name"] == "acme-web"
    for hit in hits:
        validate_alert(hit)
