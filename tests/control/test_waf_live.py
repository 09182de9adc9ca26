"""Live distribution to the WAF: real API, WAF (two workers) and upstream processes over sockets.

A tenant-admin key builds a VPC, a WAF site and an IPS listener through the API, switches the site
from detect to prevent, and the next attack is blocked within 2 seconds on every worker; policy
changes under load fail no request; a data-plane build that fails keeps the old rules serving
and is reported back to the control plane.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from shared.runtime.broker import LocalBroker
from shared.runtime.ports import free_port
from shared.runtime.process import stop_process
from tests.live import REPO, create_key, spawn, start_control_plane, start_upstream, wait_ready

ATTACK = "/search?id=1%27%20OR%20%271%27=%271"


@dataclass
class Live:
    api: str
    waf: str
    upstream_port: int
    provider: str
    rules_root: Path
    logs: Path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, broker: LocalBroker) -> Iterator[Live]:
    d = tmp_path_factory.mktemp("live")
    rules_root = d / "rules-waf"
    shutil.copytree(REPO / "rules" / "waf", rules_root, ignore=shutil.ignore_patterns("tests"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        up = start_upstream(d, procs)
        api, provider = start_control_plane(d, procs)
        dp_key = create_key(api, provider, {"id": "waf-fleet", "role": "dataplane"})
        (d / "dataplane.key").write_text(dp_key)
        waf_port, admin_port = free_port(), free_port()
        procs.append(spawn(["services.waf", "--port", str(waf_port), "--admin-port", str(admin_port),
                             "--control-url", api, "--control-key-file", str(d / "dataplane.key"),
                             "--control-wait", "5", "--kafka", broker.bootstrap, "--rules-root", str(rules_root),
                             "--spool-dir", str(d / "spool"), "--cache-dir", str(d / "cache"), "--workers", "2"],
                            d / "waf.log"))
        wait_ready(f"http://127.0.0.1:{admin_port}/readyz", procs[-1], d / "waf.log")
        yield Live(api, f"http://127.0.0.1:{waf_port}", up, provider, rules_root, d)
    finally:
        for p in reversed(procs):
            stop_process(p, grace=15)


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str, key: str) -> None:
        self.session, self.base, self.key = session, base, key

    async def __call__(self, method: str, path: str, body: object = None, etag: str | None = None,
                       key: str | None = None) -> tuple[int, dict, str | None]:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        if etag:
            headers["If-Match"] = etag
        async with self.session.request(method, self.base + path, json=body, headers=headers) as resp:
            data = await resp.json() if resp.content_length else {}
            return resp.status, data, resp.headers.get("ETag")


async def _tenant(api: Api, tenant: str, host: str, upstream_port: int, mode: str) -> tuple[str, str]:
    """A tenant, its tenant-admin key, a VPC and a site, all made through the API; (admin key, site ETag)."""
    status, _, _ = await api("POST", "/v1/tenants", {"id": tenant})
    assert status == 201
    status, body, _ = await api("POST", f"/v1/tenants/{tenant}/keys", {"role": "tenant-admin"})
    admin = body["secret"]
    status, body, _ = await api("POST", f"/v1/tenants/{tenant}/vpcs", {"id": "vpc-1", "firewall": {"waf": True}},
                                key=admin)
    assert status == 201, body
    status, body, etag = await api("POST", f"/v1/tenants/{tenant}/vpcs/vpc-1/sites",
                                   {"name": "web", "hosts": [host], "upstream": f"http://127.0.0.1:{upstream_port}",
                                    "mode": mode, "rulesets": ["core"]}, key=admin)
    assert status == 201, body
    return admin, etag or ""


async def _get(session: aiohttp.ClientSession, live: Live, host: str, path: str) -> int:
    # a new connection each time, so SO_REUSEPORT spreads the requests over both workers
    async with session.get(live.waf + path, headers={"Host": host, "Connection": "close"}) as resp:
        await resp.read()
        return resp.status


async def _until(session: aiohttp.ClientSession, live: Live, host: str, path: str, want: int,
                 timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await _get(session, live, host, path) == want:
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError(f"{host}{path} never answered {want} within {timeout} s")


async def _converged(api: Api, timeout: float = 5.0) -> dict:
    """Wait until both WAF workers report the current version built."""
    deadline = time.monotonic() + timeout
    while True:
        status, report, _ = await api("GET", "/v1/dataplane/status")
        assert status == 200
        if len(report["instances"]) == 2 and all(i["ok"] and i["version"] == report["version"]
                                                 for i in report["instances"]):
            return report
        if time.monotonic() > deadline:
            raise AssertionError(f"the data plane did not converge: {report}")
        await asyncio.sleep(0.05)


async def test_tenant_admin_switches_detect_to_prevent_and_the_next_attack_is_blocked(live: Live) -> None:
    async with aiohttp.ClientSession() as session:
        api = Api(session, live.api, live.provider)
        admin, etag = await _tenant(api, "t-switch", "shop.switch.test", live.upstream_port, "detect")
        status, body, _ = await api("POST", "/v1/tenants/t-switch/vpcs/vpc-1/listeners",
                                    {"name": "pg", "listen": f"127.0.0.1:{free_port()}",
                                     "upstream": "127.0.0.1:5432"}, key=admin)
        assert status == 201, body
        await _converged(api, timeout=60)  # the first site compiles the core pack (cold cache)
        assert await _get(session, live, "shop.switch.test", "/hello") == 200
        assert await _get(session, live, "shop.switch.test", ATTACK) == 200, "detect mode forwards"

        status, body, _ = await api("PATCH", "/v1/tenants/t-switch/vpcs/vpc-1/sites/web", {"mode": "prevent"},
                                    etag=etag, key=admin)
        assert status == 200 and body["mode"] == "prevent"
        took = await _until(session, live, "shop.switch.test", ATTACK, 403, timeout=5)
        assert took < 2.0, f"prevent mode took {took:.2f} s to reach the WAF"
        print(f"detect -> prevent: the next attack was blocked {took * 1000:.0f} ms after the PATCH returned")
        # every worker has it: 20 fresh connections, all blocked
        results = [await _get(session, live, "shop.switch.test", ATTACK) for _ in range(20)]
        assert results == [403] * 20
        assert await _get(session, live, "shop.switch.test", "/hello") == 200


async def test_policy_changes_under_load_fail_no_request(live: Live) -> None:
    async with aiohttp.ClientSession() as session:
        api = Api(session, live.api, live.provider)
        admin, etag = await _tenant(api, "t-load", "shop.load.test", live.upstream_port, "prevent")
        await _converged(api, timeout=60)
        stop = asyncio.Event()
        outcomes: dict[int, int] = {}

        async def client(n: int) -> None:
            conn = aiohttp.TCPConnector(limit=1)  # keep-alive connections across the swaps
            async with aiohttp.ClientSession(connector=conn) as s:
                i = 0
                while not stop.is_set():
                    try:
                        async with s.post(f"{live.waf}/orders/{n}/{i}?q=widgets", data=b"x" * 512,
                                          headers={"Host": "shop.load.test"}) as resp:
                            await resp.read()
                            outcomes[resp.status] = outcomes.get(resp.status, 0) + 1
                    except aiohttp.ClientError:
                        outcomes[-1] = outcomes.get(-1, 0) + 1
                    i += 1

        clients = [asyncio.create_task(client(n)) for n in range(4)]
        path = "/v1/tenants/t-load/vpcs/vpc-1/sites/web"
        for i in range(6):
            await asyncio.sleep(0.4)
            patch = {"mode": "detect" if i % 2 == 0 else "prevent",
                     "exclusions": [{"rule_id": 1000000 + i}] if i % 3 == 0 else []}
            status, body, etag = await api("PATCH", path, patch, etag=etag, key=admin)
            assert status == 200, body
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*clients)
        total = sum(outcomes.values())
        assert total > 100 and outcomes == {200: total}, outcomes
        await _converged(api)


async def test_failed_build_keeps_the_old_rules_and_is_reported(live: Live) -> None:
    async with aiohttp.ClientSession() as session:
        api = Api(session, live.api, live.provider)
        admin, etag = await _tenant(api, "t-fail", "shop.fail.test", live.upstream_port, "prevent")
        await _converged(api, timeout=60)
        pack_file = live.rules_root / "core" / "xss.conf"
        good = pack_file.read_text()
        pack_file.write_text(good + '\nSecRule ARGS "@rx (" "id:1099998,phase:2,deny\n')
        try:
            path = "/v1/tenants/t-fail/vpcs/vpc-1/sites/web"
            status, body, etag = await api("PATCH", path, {"max_body_bytes": 65536}, etag=etag, key=admin)
            assert status == 200
            deadline = time.monotonic() + 5
            while True:
                status, report, _ = await api("GET", "/v1/dataplane/status")
                failed = [i for i in report["instances"] if i["version"] == report["version"] and not i["ok"]]
                if len(failed) == 2 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert len(failed) == 2, report
            assert "xss.conf" in failed[0]["error"], failed[0]["error"]
            # the previous rules keep serving on every worker
            assert [await _get(session, live, "shop.fail.test", ATTACK) for _ in range(10)] == [403] * 10
            assert await _get(session, live, "shop.fail.test", "/hello") == 200
        finally:
            pack_file.write_text(good)
        status, body, etag = await api("PATCH", path, {"max_body_bytes": 65537}, etag=etag, key=admin)
        assert status == 200
        await _converged(api)


async def test_ip_allow_and_deny_lists_apply_live(live: Live) -> None:
    async with aiohttp.ClientSession() as session:
        api = Api(session, live.api, live.provider)
        admin, etag = await _tenant(api, "t-ip", "shop.ip.test", live.upstream_port, "prevent")
        await _converged(api, timeout=60)
        path = "/v1/tenants/t-ip/vpcs/vpc-1/sites/web"
        status, body, _ = await api("PATCH", path, {"ip_deny": ["127.0.0.300/8"]}, etag=etag, key=admin)
        assert status == 422 and body["error"]["field"] == "ip_deny[0]"
        steps = [({"ip_deny": ["127.0.0.0/8"]}, 403), ({"ip_deny": [], "ip_allow": ["10.0.0.0/8"]}, 403),
                 ({"ip_allow": ["10.0.0.0/8", "127.0.0.1"]}, 200)]
        for patch, want in steps:
            status, body, etag = await api("PATCH", path, patch, etag=etag, key=admin)
            assert status == 200, body
            took = await _until(session, live, "shop.ip.test", "/hello", want, timeout=5)
            assert took < 2.0
            await _converged(api)
            assert [await _get(session, live, "shop.ip.test", "/hello") for _ in range(6)] == [want] * 6, patch
        assert body["ip_allow"] == ["10.0.0.0/8", "127.0.0.1/32"], "stored in canonical CIDR form"
