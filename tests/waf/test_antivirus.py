"""Uploads through the WAF with antivirus on: the real AV service, real clamd, the real echo upstream."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict
from prometheus_client import CollectorRegistry

from services.demo_upstream.app import make_app as make_upstream
from services.waf.app import WafState, make_proxy_app
from services.waf.policy import PolicyStore
from shared.runtime.ports import free_port
from tests.av.conftest import av_service  # noqa: F401  (fixture: the AV service on a free port)
from tests.av.samples import eicar, php_webshell
from tests.waf.test_proxy import ListSink, write_pack

PACK = "SecRuleEngine On\nSecRequestBodyAccess On\n"
StartWaf = Callable[..., Awaitable[tuple[str, ListSink]]]


@pytest.fixture
async def waf_with_av(tmp_path: Path) -> AsyncIterator[StartWaf]:
    cleanup: list = []
    upstream = TestServer(make_upstream(), host="127.0.0.1", port=free_port())
    await upstream.start_server()
    cleanup.append(upstream.close)
    write_pack(tmp_path / "rules", "empty", PACK)

    async def start(av_url: str, *, mode: str = "prevent", fail_policy: str = "closed") -> tuple[str, ListSink]:
        tenancy = tmp_path / f"tenancy-{len(cleanup)}.yaml"
        tenancy.write_text(yaml.safe_dump({"tenants": [{"id": "t", "vpcs": [{
            "id": "v", "firewall": {"waf": True, "av": True},
            "sites": [{"name": "files", "hosts": ["files.local"], "upstream": f"http://127.0.0.1:{upstream.port}",
                       "rulesets": ["empty"], "mode": mode, "av_fail_policy": fail_policy}]}]}]}))
        sink = ListSink()
        state = WafState(tenancy_path=tenancy, policies=PolicyStore(tmp_path / "rules", tmp_path / "cache"),
                         sink=sink, observer="test-waf", registry=CollectorRegistry())
        state.av_url, state.av_timeout = av_url, 10.0
        state.reload()
        proxy = TestServer(make_proxy_app(state), host="127.0.0.1", port=free_port())
        await proxy.start_server()
        cleanup.append(proxy.close)
        return f"http://127.0.0.1:{proxy.port}", sink

    yield start
    for close in reversed(cleanup):
        await close()


def form(name: str, data: bytes) -> aiohttp.FormData:
    f = aiohttp.FormData()
    f.add_field("title", "quarterly report")
    f.add_field("doc", data, filename=name, content_type="application/octet-stream")
    return f


async def post(url: str, data, **kw) -> tuple[int, "CIMultiDict[str]", bytes]:
    async with aiohttp.ClientSession() as s, s.post(url, data=data, headers={"Host": "files.local"}, **kw) as r:
        return r.status, CIMultiDict(r.headers), await r.read()


async def test_infected_multipart_upload_is_blocked_with_a_correlated_alert(av_service, waf_with_av) -> None:
    url, sink = await waf_with_av(await av_service())
    status, headers, body = await post(url + "/upload", form("invoice.com", eicar()))
    assert status == 403
    [alert] = sink.docs
    assert alert["event"]["module"] == "av" and alert["event"]["action"] == "blocked"
    assert alert["trace"]["id"] == headers["X-Request-Id"]
    assert alert["file"] == {"name": "invoice.com", "size": len(eicar()),
                             "hash": {"sha256": hashlib.sha256(eicar()).hexdigest()}}
    assert alert["tenant"]["id"] == "t" and alert["service"]["name"] == "files"


async def test_clean_upload_reaches_the_upstream_unchanged(av_service, waf_with_av) -> None:
    url, sink = await waf_with_av(await av_service())
    data = b"%PDF-1.7 harmless report\n" * 100
    status, _, body = await post(url + "/upload", form("report.pdf", data))
    assert status == 200
    echo = json.loads(body)
    assert data in base64.b64decode(echo["body_b64"])
    assert sink.docs == []


async def test_raw_put_of_a_webshell_is_blocked(av_service, waf_with_av) -> None:
    url, sink = await waf_with_av(await av_service())
    async with aiohttp.ClientSession() as s, s.put(url + "/var/www/up.php", data=php_webshell(),
                                                   headers={"Host": "files.local", "Content-Type": "text/x-php"}) as r:
        assert r.status == 403
    assert sink.docs[0]["file"]["name"] == "up.php"


async def test_detect_mode_forwards_and_alerts(av_service, waf_with_av) -> None:
    url, sink = await waf_with_av(await av_service(), mode="detect")
    status, _, _ = await post(url + "/upload", form("x.com", eicar()))
    assert status == 200
    assert [d["event"]["action"] for d in sink.docs] == ["alerted"]


@pytest.mark.parametrize("policy,expect_status,expect_action", [("closed", 503, "blocked"), ("open", 200, "alerted")])
async def test_scanner_down_applies_the_fail_policy(waf_with_av, policy, expect_status, expect_action) -> None:
    url, sink = await waf_with_av(f"http://127.0.0.1:{free_port()}", fail_policy=policy)
    status, _, _ = await post(url + "/upload", form("a.bin", b"some bytes"))
    assert status == expect_status
    [alert] = sink.docs
    assert alert["rule"]["id"] == "Secchain.Scanner.Error" and alert["event"]["action"] == expect_action
