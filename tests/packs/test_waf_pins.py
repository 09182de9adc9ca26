"""Pinned pack versions in the WAF: loaded from bundles, shadowed, swapped under load.

A real proxy (aiohttp) in front of the real echo upstream; a site pins ``probe@1.0.0`` and
shadows ``probe@1.1.0``, both compiled and published into a bundles folder by the test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from services.demo_upstream.app import make_app as make_upstream
from services.packs.shadow import ShadowEvaluator, diff_report
from services.waf.app import WafState, make_proxy_app
from services.waf.policy import PolicyStore
from shared.packs.bundle import compile_bundle, write_index
from shared.packs.manifest import load_manifest
from shared.runtime.ports import free_port
from tests.packs.conftest import write_pack

SETUP = '''
    SecRuleEngine On
    SecRequestBodyAccess On
    SecDefaultAction "phase:2,log,deny,status:403"
    SecRule ARGS "@contains evil" "id:4000001,phase:2,deny,msg:'evil'"
'''
V1 = {"rules.conf": SETUP + '''
    SecRule ARGS "@contains nasty" "id:4000002,phase:2,deny,msg:'nasty (dropped in 1.1.0)'"
'''}
V2 = {"rules.conf": SETUP + '''
    SecRule ARGS:probe "@rx ^shadow-(?:test|check)$" "id:4000003,phase:2,deny,msg:'probe (new in 1.1.0)'"
'''}


class Sink:
    def send(self, alert: dict[str, Any]) -> None:
        pass


@dataclass
class Setup:
    url: str
    state: WafState
    tenancy: Path
    upstream: str
    shadow_db: Path


def _tenancy(path: Path, upstream: str, rulesets: list[str], shadow: str | None = None) -> None:
    site = {"name": "shop", "hosts": ["shop.local"], "upstream": upstream, "rulesets": rulesets}
    if shadow:
        site["shadow"] = shadow
    path.write_text(yaml.safe_dump({"tenants": [{"id": "t", "vpcs": [{"id": "v", "sites": [site]}]}]}))


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    bundles = tmp_path / "bundles"
    for version, files in (("1.0.0", V1), ("1.1.0", V2)):
        manifest = load_manifest(write_pack(tmp_path / f"src-{version}", files, name="probe", version=version))
        bundle = compile_bundle(manifest, bundles, progress=False)
        write_index(bundles, "waf", "probe", version, bundle.sha256)
    upstream = TestServer(make_upstream(), host="127.0.0.1", port=free_port())
    await upstream.start_server()
    up = f"http://127.0.0.1:{upstream.port}"
    tenancy = tmp_path / "tenancy.yaml"
    _tenancy(tenancy, up, ["probe@1.0.0"], shadow="probe@1.1.0")
    policies = PolicyStore(tmp_path / "rules-unused", tmp_path / "cache", bundles_dir=bundles)
    state = WafState(tenancy_path=tenancy, policies=policies, sink=Sink(), observer="test", registry=CollectorRegistry())
    state.shadow = ShadowEvaluator(tmp_path / "shadow.db", flush_interval=0.05)
    state.reload()
    server = TestServer(make_proxy_app(state), host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        yield Setup(f"http://127.0.0.1:{server.port}", state, tenancy, up, tmp_path / "shadow.db")
    finally:
        await server.close()
        await upstream.close()
        state.shadow.close()


async def _get(session: aiohttp.ClientSession, base: str, query: str) -> int:
    async with session.get(f"{base}/search?{query}", headers={"Host": "shop.local"}) as resp:
        await resp.read()
        return resp.status


async def test_pinned_bundle_serves_and_shadow_differences_are_counted_exactly(setup: Setup) -> None:
    policy = setup.state.policies.policy(setup.state.tenancy.sites[0])
    assert (policy.ruleset_label, policy.shadow_label) == ("probe@1.0.0", "probe@1.1.0")
    mix = [("probe=shadow-test", 200)] * 7 + [("q=evil", 403)] * 5 + [("q=nasty", 403)] * 3 + [("q=hello", 200)] * 11
    async with aiohttp.ClientSession() as session:
        for query, expected in mix:
            assert await _get(session, setup.url, query) == expected, query
    await asyncio.to_thread(setup.state.shadow.drain)
    report = diff_report(setup.shadow_db, "shop", time.time() - 3600)
    assert (report.evaluated, report.differed, report.dropped) == (26, 10, 0)
    assert report.pairs == [("probe@1.0.0", "probe@1.1.0")]
    assert [(r.rule_id, r.candidate_only, r.active_only) for r in report.rules] == [(4000003, 7, 0), (4000002, 0, 3)]
    assert diff_report(setup.shadow_db, "other-site", time.time() - 3600).evaluated == 0


async def test_repin_under_load_fails_nothing_and_takes_effect_fast(setup: Setup) -> None:
    stop = asyncio.Event()
    statuses: list[int] = []
    errors: list[BaseException] = []

    async def load(session: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            try:
                statuses.append(await _get(session, setup.url, "q=hello"))
            except (aiohttp.ClientError, OSError) as exc:
                errors.append(exc)

    async with aiohttp.ClientSession() as session:
        workers = [asyncio.create_task(load(session)) for _ in range(8)]
        timings = []
        for rulesets, probe_status in ((["probe@1.1.0"], 403), (["probe@1.0.0"], 200), (["probe@1.1.0"], 403),
                                       (["probe@1.0.0"], 200)):
            seen = len(statuses)
            while len(statuses) < seen + 15 and not errors:  # the reload lands in the middle of traffic
                await asyncio.sleep(0.005)
            started = time.monotonic()
            _tenancy(setup.tenancy, setup.upstream, rulesets)
            await asyncio.to_thread(setup.state.reload)
            assert await _get(session, setup.url, "probe=shadow-test") == probe_status
            timings.append(time.monotonic() - started)
        stop.set()
        await asyncio.gather(*workers)
    assert errors == [] and set(statuses) == {200} and len(statuses) > 50
    assert max(timings) < 2.0, timings  # promote and rollback each live within 2 s


async def test_unpublished_pin_keeps_the_previous_rules(setup: Setup) -> None:
    _tenancy(setup.tenancy, setup.upstream, ["probe@9.9.9"])
    with pytest.raises(Exception, match="not published"):
        setup.state.reload()
    async with aiohttp.ClientSession() as session:
        assert await _get(session, setup.url, "q=nasty") == 403  # 1.0.0 still serving


async def test_broken_shadow_never_stops_the_active_rules(setup: Setup) -> None:
    _tenancy(setup.tenancy, setup.upstream, ["probe@1.0.0"], shadow="probe@7.0.0")
    setup.state.reload()
    policy = setup.state.policies.policy(setup.state.tenancy.sites[0])
    assert policy.ruleset_label == "probe@1.0.0" and policy.shadow is None
