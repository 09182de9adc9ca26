"""The IPS service: listeners from the tenancy file, engine swap on reload, the admin routes."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import yaml
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from services.ips.config import EngineTable
from services.ips.server import IpsService, make_admin_app
from shared.runtime.ports import free_port
from tests.ips.service.helpers import Upstream, echo
from tests.ips.service.rules import RULES, write_pack

NEW_RULE = 'alert tcp any any -> any any (msg:"TEST marker two"; flow:to_server; content:"MARKER-TWO"; sid:9100099; rev:1;)\n'


def write_tenancy(path: Path, upstream_port: int, listen_port: int, mode: str = "prevent") -> None:
    path.write_text(yaml.safe_dump({"tenants": [{"id": "acme", "vpcs": [
        {"id": "vpc-a", "firewall": {"ips": True}, "ips_listeners": [
            {"name": "db", "listen": f"127.0.0.1:{listen_port}", "upstream": f"127.0.0.1:{upstream_port}", "mode": mode,
             "rulesets": ["t"]}]},
        {"id": "vpc-off", "firewall": {"ips": False}, "ips_listeners": [
            {"name": "off", "listen": "127.0.0.1:1", "upstream": "127.0.0.1:2"}]},
    ]}]}))


async def send(addr: tuple[str, int], data: bytes, conn=None):
    if conn is None:
        conn = await asyncio.open_connection(*addr)
    r, w = conn
    w.write(data)
    await w.drain()
    assert await asyncio.wait_for(r.readexactly(len(data)), 5) == data
    return conn


def sids(eve: io.StringIO) -> list[tuple[int, int]]:
    out = []
    for line in eve.getvalue().splitlines():
        rec = json.loads(line)
        if rec["direction"] == "to_server":
            out.append((rec["flow_id"], rec["alert"]["signature_id"]))
    return out


async def test_reload_swaps_engines_for_new_flows_only(tmp_path: Path) -> None:
    up = await Upstream(echo).start()
    pack = write_pack(tmp_path / "packs")
    tenancy = tmp_path / "tenancy.yaml"
    write_tenancy(tenancy, up.port, free_port())
    eve = io.StringIO()
    service = IpsService(tenancy_path=tenancy, engines=EngineTable(tmp_path / "packs"), observer="ips-t",
                         registry=CollectorRegistry(), eve=eve)
    await service.start()
    client = TestClient(TestServer(make_admin_app(service)))
    await client.start_server()
    try:
        assert list(service.listeners) == [("acme", "vpc-a", "db")]  # the VPC without IPS runs nothing
        addr = service.listeners[("acme", "vpc-a", "db")].address
        old = await send(addr, b"hello")
        (pack / "test.rules").write_text(RULES + NEW_RULE)
        resp = await client.post("/reload")
        assert resp.status == 200 and (await resp.json())["generation"] == 2
        new = await send(addr, b"MARKER-TWO")
        await send(addr, b"MARKER-TWO", old)   # the open flow still runs generation 1
        await send(addr, b"MARKER-ONE", old)
        got = sids(eve)
        assert sorted(s for _, s in got) == [9100006, 9100099]
        assert {fid for fid, s in got if s == 9100099} != {fid for fid, s in got if s == 9100006}

        # a broken pack: the reload is refused, the running engines stay
        (pack / "manifest.yaml").write_text("name: t\nkind: ips\nversion: 2\nfiles: [gone.rules]\n")
        resp = await client.post("/reload")
        assert resp.status == 422
        body = await resp.json()
        assert "gone.rules does not exist" in body["error"]["message"] and body["generation"] == 2
        third = await send(addr, b"MARKER-TWO")
        assert sorted(s for _, s in sids(eve)).count(9100099) == 2

        resp = await client.get("/readyz")
        assert resp.status == 200
        status = await (await client.get("/status")).json()
        assert status["last_error"] and status["engines"][0]["signatures"] == 7
        metrics = await (await client.get("/metrics")).text()
        assert 'secchain_ips_rules_loaded{rulesets="t@1.0.0"} 7.0' in metrics
        assert "secchain_ips_reload_failures_total 1.0" in metrics
        for _, w in (old, new, third):
            w.close()
            await w.wait_closed()
    finally:
        await client.close()
        await service.close()
        await up.close()


async def test_reload_applies_a_new_mode_to_new_connections(tmp_path: Path) -> None:
    up = await Upstream(echo).start()
    write_pack(tmp_path / "packs")
    tenancy = tmp_path / "tenancy.yaml"
    listen = free_port()
    write_tenancy(tenancy, up.port, listen, mode="detect")
    service = IpsService(tenancy_path=tenancy, engines=EngineTable(tmp_path / "packs"), observer="ips-t",
                         registry=CollectorRegistry())
    await service.start()
    try:
        addr = service.listeners[("acme", "vpc-a", "db")].address
        _, w = await send(addr, b"EVIL-DROP")  # detect: forwarded
        w.close()
        await w.wait_closed()
        write_tenancy(tenancy, up.port, listen, mode="prevent")
        await service.reload()
        r, w = await asyncio.open_connection(*addr)
        w.write(b"EVIL-DROP")
        await w.drain()
        assert await asyncio.wait_for(r.read(100), 5) == b""
        w.close()
    finally:
        await service.close()
        await up.close()
