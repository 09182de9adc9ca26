"""The WAF proxy in front of the real echo upstream, with packs written by the test.

These exercise what the core pack does not: body access Off (the body streams through), phase 4
response-body rules, phase 3 blocking, redirects. Alerts go to an in-process list here; the path
through Kafka is covered end to end in tests/e2e.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from services.demo_upstream.app import make_app as make_upstream
from services.waf.app import WafState, make_admin_app, make_proxy_app
from services.waf.policy import PolicyStore
from shared.events import validate_alert
from shared.runtime.ports import free_port

STREAM_PACK = """
SecRuleEngine On
SecRequestBodyAccess Off
SecRule REQUEST_HEADERS:X-Attack "@streq yes" "id:2001,phase:1,deny,status:403,log,msg:'header attack'"
"""
RESPONSE_PACK = """
SecRuleEngine On
SecRequestBodyAccess On
SecResponseBodyAccess On
SecResponseBodyMimeType application/json
SecRule RESPONSE_BODY "@contains LEAKED-SECRET" "id:2101,phase:4,deny,status:502,log,msg:'data leak'"
SecRule RESPONSE_STATUS "@streq 200" "chain,id:2102,phase:3,deny,status:403,log,msg:'admin path'"
    SecRule REQUEST_FILENAME "@beginsWith /admin" "t:none"
SecRule ARGS:go "@streq away" "id:2103,phase:2,redirect:https://example.org/,log,msg:'redirect'"
"""


@dataclass
class ListSink:
    docs: list[dict[str, Any]] = field(default_factory=list)

    def send(self, alert: dict[str, Any]) -> None:
        self.docs.append(validate_alert(alert))


@dataclass
class Waf:
    url: str
    sink: ListSink
    session: aiohttp.ClientSession


def write_pack(root: Path, name: str, text: str) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "rules.conf").write_text(text)
    (root / name / "manifest.yaml").write_text(yaml.safe_dump({"name": name, "version": "1.0.0",
                                                                "files": ["rules.conf"]}))


@pytest.fixture
async def waf(tmp_path: Path) -> AsyncIterator[Waf]:
    upstream = TestServer(make_upstream(), host="127.0.0.1", port=free_port())
    await upstream.start_server()
    rules = tmp_path / "rules"
    write_pack(rules, "stream", STREAM_PACK)
    write_pack(rules, "response", RESPONSE_PACK)
    up = f"http://127.0.0.1:{upstream.port}"
    tenancy = tmp_path / "tenancy.yaml"
    tenancy.write_text(yaml.safe_dump({"tenants": [{"id": "t", "vpcs": [{"id": "v", "sites": [
        {"name": "stream", "hosts": ["stream.local"], "upstream": up, "rulesets": ["stream"], "max_body_bytes": 100000},
        {"name": "resp", "hosts": ["resp.local"], "upstream": up, "rulesets": ["response"]},
    ]}]}]}))
    sink = ListSink()
    state = WafState(tenancy_path=tenancy, policies=PolicyStore(rules, tmp_path / "cache"), sink=sink,
                     observer="test-waf", registry=CollectorRegistry())
    state.reload()
    proxy = TestServer(make_proxy_app(state), host="127.0.0.1", port=free_port())
    admin = TestServer(make_admin_app(state), host="127.0.0.1", port=free_port())
    await proxy.start_server()
    await admin.start_server()
    session = aiohttp.ClientSession(auto_decompress=False)
    try:
        yield Waf(f"http://127.0.0.1:{proxy.port}", sink, session)
    finally:
        await session.close()
        await proxy.close()
        await admin.close()
        await upstream.close()


async def gen(chunks: int, size: int):
    for i in range(chunks):
        yield bytes([65 + i % 26]) * size


async def test_body_access_off_streams_the_body_through(waf: Waf) -> None:
    async with waf.session.post(waf.url + "/upload", data=gen(8, 8192), headers={"Host": "stream.local"}) as resp:
        assert resp.status == 200
        echo = json.loads(await resp.read())
    assert echo["body_length"] == 8 * 8192
    assert not waf.sink.docs


async def test_streamed_body_over_the_limit_is_refused(waf: Waf) -> None:
    async with waf.session.post(waf.url + "/upload", data=gen(20, 8192), headers={"Host": "stream.local"}) as resp:
        assert resp.status == 413
    async with waf.session.post(waf.url + "/upload", data=b"x" * 100001, headers={"Host": "stream.local"}) as resp:
        assert resp.status == 413


async def test_phase1_block_on_streaming_site(waf: Waf) -> None:
    async with waf.session.get(waf.url + "/", headers={"Host": "stream.local", "X-Attack": "yes"}) as resp:
        assert resp.status == 403
        assert resp.headers["X-Request-Id"] in await resp.text()
    assert [d["rule"]["id"] for d in waf.sink.docs] == ["2001"]
    assert waf.sink.docs[0]["event"]["action"] == "blocked"


async def test_phase4_response_body_rule_blocks_a_leak(waf: Waf) -> None:
    async with waf.session.get(waf.url + "/profile?x=LEAKED-SECRET", headers={"Host": "resp.local"}) as resp:
        assert resp.status == 502
        assert "LEAKED-SECRET" not in await resp.text()
    assert [d["rule"]["id"] for d in waf.sink.docs] == ["2101"]
    async with waf.session.get(waf.url + "/profile?x=fine", headers={"Host": "resp.local"}) as resp:
        assert resp.status == 200
        assert json.loads(await resp.read())["path"] == "/profile?x=fine"


async def test_phase3_chain_on_response_status(waf: Waf) -> None:
    async with waf.session.get(waf.url + "/admin/users", headers={"Host": "resp.local"}) as resp:
        assert resp.status == 403
    assert waf.sink.docs[-1]["rule"]["id"] == "2102"


async def test_redirect_action(waf: Waf) -> None:
    async with waf.session.get(waf.url + "/?go=away", headers={"Host": "resp.local"},
                               allow_redirects=False) as resp:
        assert resp.status == 302
        assert resp.headers["Location"] == "https://example.org/"


async def raw(waf: Waf, data: bytes) -> bytes:
    import asyncio

    host, port = waf.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(65536), 10)
    writer.close()
    await writer.wait_closed()
    return answer


async def test_every_request_target_reaches_the_engine(waf: Waf) -> None:
    # A decoded newline in the path (CRS 921190 looks for it) is inspected and forwarded, not a router 404.
    async with waf.session.get(waf.url + "/a%0Ab", headers={"Host": "resp.local"}) as resp:
        assert resp.status == 200
        assert json.loads(await resp.read())["path"] == "/a%0Ab"
    answer = await raw(waf, b"GET http://resp.local/abs?x=1 HTTP/1.1\r\nHost: resp.local\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
    assert b'"path": "/abs?x=1"' in answer
    answer = await raw(waf, b"CONNECT resp.local:443 HTTP/1.1\r\nHost: resp.local\r\nConnection: close\r\n\r\n")
    assert b" 405 " in answer.split(b"\r\n", 1)[0], answer[:100]
    answer = await raw(waf, b"OPTIONS * HTTP/1.1\r\nHost: resp.local\r\nConnection: close\r\n\r\n")
    assert b" 400 " in answer.split(b"\r\n", 1)[0], answer[:100]
    answer = await raw(waf, b"GET /a#frag HTTP/1.1\r\nHost: resp.local\r\nConnection: close\r\n\r\n")
    assert b" 400 " in answer.split(b"\r\n", 1)[0], answer[:100]


@pytest.mark.parametrize("host_lines", [b"", b"Host: \r\n", b"Host: resp.local%00\r\n",
                                        b"Host: resp.local\r\nHost: stream.local\r\n"])
async def test_missing_empty_invalid_or_repeated_host_is_400(waf: Waf, host_lines: bytes) -> None:
    answer = await raw(waf, b"GET / HTTP/1.1\r\n" + host_lines + b"Connection: close\r\n\r\n")
    assert b" 400 " in answer.split(b"\r\n", 1)[0], answer[:100]
