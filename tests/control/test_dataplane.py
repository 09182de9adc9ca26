"""The snapshot long poll and build reports, and the follower a data-plane worker runs."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.control.follower import SnapshotFollower
from shared.config.tenancy import Tenancy, parse_tenancy
from tests.control.conftest import ControlPlane


async def _dataplane_key(cp: ControlPlane) -> str:
    r = await cp.call("POST", "/v1/keys", cp.provider, {"id": "fleet", "role": "dataplane"})
    assert r.status == 201
    return r.body["secret"]


async def test_snapshot_is_a_tenancy_document_with_a_version(cp: ControlPlane) -> None:
    key = await _dataplane_key(cp)
    await cp.tenant_with_keys("a")
    await cp.call("POST", "/v1/tenants/a/vpcs", cp.provider, {"id": "v1", "firewall": {"av": True}})
    await cp.call("POST", "/v1/tenants/a/vpcs/v1/sites", cp.provider,
                  {"name": "s", "hosts": ["s.a.example"], "upstream": "http://h"})
    r = await cp.call("GET", "/v1/dataplane/snapshot", key)
    assert r.status == 200 and r.etag == f'"{r.body["version"]}"'
    tenancy = parse_tenancy(r.body["tenancy"])
    site = tenancy.site_for_host("s.a.example")
    assert site is not None and site.antivirus and site.tenant_id == "a"
    assert "api_keys" not in r.body["tenancy"], "key hashes are not distributed to the data plane"
    # a tenant's admin may not read the whole fleet's configuration
    admin = (await cp.tenant_with_keys("b"))["tenant-admin"]
    assert (await cp.call("GET", "/v1/dataplane/snapshot", admin)).status == 403


async def test_long_poll_answers_the_moment_a_change_commits(cp: ControlPlane) -> None:
    key = await _dataplane_key(cp)
    version = (await cp.call("GET", "/v1/dataplane/snapshot", key)).body["version"]
    started = time.monotonic()
    r = await cp.call("GET", f"/v1/dataplane/snapshot?after={version}&wait=1", key)
    assert r.status == 304 and 0.9 < time.monotonic() - started < 1.8

    async def change_soon() -> None:
        await asyncio.sleep(0.3)
        await cp.call("POST", "/v1/tenants", cp.provider, {"id": "late"})

    started = time.monotonic()
    poll, _ = await asyncio.gather(cp.call("GET", f"/v1/dataplane/snapshot?after={version}&wait=10", key),
                                   change_soon())
    took = time.monotonic() - started
    assert poll.status == 200 and poll.body["version"] > version
    assert [t["id"] for t in poll.body["tenancy"]["tenants"]] == ["late"]
    assert took < 0.8, f"long poll answered {took:.2f} s after the change"
    r = await cp.call("GET", "/v1/dataplane/snapshot?after=x", key)
    assert r.status == 400 and r.body["error"]["parameter"] == "after"


async def test_build_reports_are_exposed(cp: ControlPlane) -> None:
    key = await _dataplane_key(cp)
    r = await cp.call("POST", "/v1/dataplane/status", key,
                      {"instance": "waf-1", "service": "waf", "version": 3, "ok": False, "error": "core/x.conf:3:1: boom"})
    assert r.status == 204
    r = await cp.call("POST", "/v1/dataplane/status", key, {"instance": "waf-1", "service": "waf", "version": "3"})
    assert r.status == 422 and r.body["error"]["field"] == "version"
    r = await cp.call("GET", "/v1/dataplane/status", cp.provider)
    assert r.body["instances"][0]["error"] == "core/x.conf:3:1: boom" and not r.body["instances"][0]["ok"]
    async with cp.session.get(cp.server.make_url("/metrics")) as resp:
        assert "secchain_control_dataplane_failing 1.0" in await resp.text()


async def test_follower_applies_new_versions_and_reports_a_failed_build(cp: ControlPlane) -> None:
    key = await _dataplane_key(cp)
    applied: list[tuple[int, Tenancy]] = []

    def apply(tenancy: Tenancy, version: int) -> None:
        if any(t.id == "broken" for t in tenancy.tenants):
            raise ValueError("rules/waf/core/sqli.conf:12:5: unknown operator @nope")
        applied.append((version, tenancy))

    follower = SnapshotFollower(cp.url, key, instance="waf-test", service="waf", apply=apply, wait=5)
    task = asyncio.create_task(follower.run())
    try:
        await asyncio.wait_for(follower.applied.wait(), 5)
        await cp.call("POST", "/v1/tenants", cp.provider, {"id": "one"})
        await _until(lambda: applied and applied[-1][1].tenants and applied[-1][1].tenants[0].id == "one")
        good = follower.applied_version
        await cp.call("POST", "/v1/tenants", cp.provider, {"id": "broken"})
        await _until(lambda: follower.last_error is not None)
        assert follower.applied_version == good, "a failed build leaves the previous version serving"
        r = await cp.call("GET", "/v1/dataplane/status", cp.provider)
        (inst,) = r.body["instances"]
        assert inst["instance"] == "waf-test" and not inst["ok"] and "sqli.conf:12:5" in inst["error"]
        assert inst["version"] == r.body["version"]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def _until(cond, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_a_restarted_follower_serves_the_cached_snapshot_while_the_control_plane_is_down(
        cp: ControlPlane, tmp_path) -> None:
    from shared.runtime.ports import free_port

    key = await _dataplane_key(cp)
    await cp.call("POST", "/v1/tenants", cp.provider, {"id": "kept"})
    cache = tmp_path / "snapshot.json"
    first: list[Tenancy] = []
    follower = SnapshotFollower(cp.url, key, instance="w", service="waf", apply=lambda t, v: first.append(t),
                                cache_path=cache)
    task = asyncio.create_task(follower.run())
    try:
        await asyncio.wait_for(follower.applied.wait(), 5)
        await _until(lambda: cache.exists())
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    again: list[Tenancy] = []
    down = SnapshotFollower(f"http://127.0.0.1:{free_port()}", key, instance="w", service="waf",
                            apply=lambda t, v: again.append(t), cache_path=cache)
    task = asyncio.create_task(down.run())
    try:
        await asyncio.wait_for(down.applied.wait(), 2)
        assert [t.id for t in again[0].tenants] == ["kept"] and down.applied_version == follower.applied_version
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
