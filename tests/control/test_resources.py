"""The control plane's REST resources over real HTTP: CRUD, validation, ETag / If-Match, keys."""

from __future__ import annotations

import asyncio
import sqlite3

from tests.control.conftest import ControlPlane

SITE = {"name": "shop", "hosts": ["shop.a.example"], "upstream": "http://127.0.0.1:9", "mode": "detect"}


async def _vpc_and_site(cp: ControlPlane, admin: str, tenant: str = "a") -> str:
    r = await cp.call("POST", f"/v1/tenants/{tenant}/vpcs", admin, {"id": "v1", "firewall": {"waf": True}})
    assert r.status == 201, r.body
    r = await cp.call("POST", f"/v1/tenants/{tenant}/vpcs/v1/sites", admin,
                      {**SITE, "hosts": [f"shop.{tenant}.example"]})
    assert r.status == 201, r.body
    return r.etag


async def test_tenant_admin_builds_a_vpc_with_a_site_and_a_listener(cp: ControlPlane) -> None:
    admin = (await cp.tenant_with_keys("a"))["tenant-admin"]
    etag = await _vpc_and_site(cp, admin)
    r = await cp.call("GET", "/v1/tenants/a/vpcs/v1/sites/shop", admin)
    assert r.status == 200 and r.etag == etag
    # canonical form: every default spelled out
    assert r.body["rulesets"] == ["core"] and r.body["av_fail_policy"] == "closed" and r.body["exclusions"] == []
    r = await cp.call("POST", "/v1/tenants/a/vpcs/v1/listeners", admin,
                      {"name": "db", "listen": "127.0.0.1:19400", "upstream": "127.0.0.1:5432"})
    assert r.status == 201 and r.headers["Location"] == "/v1/tenants/a/vpcs/v1/listeners/db"
    r = await cp.call("GET", "/v1/tenants/a/vpcs/v1/sites", admin)
    assert [s["name"] for s in r.body["items"]] == ["shop"]
    r = await cp.call("GET", "/v1/tenants", admin)
    assert [t["id"] for t in r.body["items"]] == ["a"]


async def test_updates_need_if_match_and_a_current_etag(cp: ControlPlane) -> None:
    admin = (await cp.tenant_with_keys("a"))["tenant-admin"]
    etag = await _vpc_and_site(cp, admin)
    path = "/v1/tenants/a/vpcs/v1/sites/shop"
    r = await cp.call("PATCH", path, admin, {"mode": "prevent"})
    assert r.status == 428 and r.body["error"]["code"] == "precondition_required"
    r = await cp.call("PATCH", path, admin, {"mode": "prevent"}, headers={"If-Match": '"99"'})
    assert r.status == 412
    r = await cp.call("PATCH", path, admin, {"mode": "prevent"}, headers={"If-Match": etag})
    assert r.status == 200 and r.body["mode"] == "prevent" and r.etag == '"2"'
    r = await cp.call("PATCH", path, admin, {"mode": "detect"}, headers={"If-Match": etag})
    assert r.status == 412, "the old ETag must no longer be accepted"
    r = await cp.call("DELETE", path, admin)
    assert r.status == 428
    r = await cp.call("DELETE", path, admin, headers={"If-Match": '"2"'})
    assert r.status == 204
    assert (await cp.call("GET", path, admin)).status == 404


async def test_concurrent_updates_with_the_same_etag_one_wins(cp: ControlPlane) -> None:
    admin = (await cp.tenant_with_keys("a"))["tenant-admin"]
    etag = await _vpc_and_site(cp, admin)
    path = "/v1/tenants/a/vpcs/v1/sites/shop"
    bodies = [{"max_body_bytes": 1000 + i} for i in range(8)]
    replies = await asyncio.gather(*(cp.call("PATCH", path, admin, b, headers={"If-Match": etag}) for b in bodies))
    statuses = sorted(r.status for r in replies)
    assert statuses == [200] + [412] * 7, statuses
    winner = next(r for r in replies if r.status == 200)
    r = await cp.call("GET", path, admin)
    assert r.body["max_body_bytes"] == winner.body["max_body_bytes"] and r.body["revision"] == 2


async def test_put_replaces_and_cannot_rename(cp: ControlPlane) -> None:
    admin = (await cp.tenant_with_keys("a"))["tenant-admin"]
    etag = await _vpc_and_site(cp, admin)
    path = "/v1/tenants/a/vpcs/v1/sites/shop"
    r = await cp.call("PUT", path, admin, {"hosts": ["shop.a.example"], "upstream": "http://10.0.0.5:8080"},
                      headers={"If-Match": etag})
    assert r.status == 200 and r.body["mode"] == "prevent", "PUT resets omitted fields to their defaults"
    r = await cp.call("PUT", path, admin, {"name": "other", "hosts": ["x.a.example"], "upstream": "http://h"},
                      headers={"If-Match": r.etag})
    assert r.status == 422 and r.body["error"]["field"] == "name"


async def test_bad_policies_are_rejected_naming_the_field(cp: ControlPlane) -> None:
    admin = (await cp.tenant_with_keys("a"))["tenant-admin"]
    etag = await _vpc_and_site(cp, admin)
    path = "/v1/tenants/a/vpcs/v1/sites/shop"
    cases = [
        ({"mode": "block"}, "mode", "'block' is not one of ['detect', 'prevent']"),
        ({"upstream": "ftp://h"}, "upstream", "expected an http(s) URL"),
        ({"hosts": ["ok.a.example", "bad host"]}, "hosts", "invalid host name 'bad host'"),
        ({"rulesets": ["core", "nope"]}, "rulesets[1]", "unknown rule pack 'nope'; available: crs, core"),
        ({"crs": {"paranoia_level": 7}}, "crs.paranoia_level", "7 is greater than the maximum of 4"),
        ({"exclusions": [{"rule_id": 1, "tag": "x"}]}, "exclusions[0]", "give exactly one of rule_id or tag"),
        ({"exclusions": [{"rule_id": 942100, "target": "ARGS:a\"; SecRule"}]}, "exclusions[0].target",
         "expected a variable such as ARGS:password"),
        ({"hosts": ["shop.a.example\n"]}, "hosts[0]", "control characters"),
        ({"colour": "red"}, None, "Additional properties are not allowed ('colour' was unexpected)"),
    ]
    for patch, field, message in cases:
        r = await cp.call("PATCH", path, admin, patch, headers={"If-Match": etag})
        assert r.status == 422, (patch, r.body)
        assert r.body["error"].get("field") == field, (patch, r.body)
        assert message in r.body["error"]["message"], (patch, r.body)
    r = await cp.call("PATCH", path, admin, raw=b'{"mode": ', headers={"If-Match": etag,
                                                                      "Content-Type": "application/json"})
    assert r.status == 422 and "invalid JSON at line 1 column 10" in r.body["error"]["message"]
    r = await cp.call("PATCH", path, admin, raw=b"mode=prevent", headers={"If-Match": etag,
                                                                         "Content-Type": "text/plain"})
    assert r.status == 415
    r = await cp.call("GET", path, admin)
    assert r.body["revision"] == 1, "no rejected change may land"


async def test_a_host_routed_by_another_tenant_is_refused_without_naming_it(cp: ControlPlane) -> None:
    a = (await cp.tenant_with_keys("a"))["tenant-admin"]
    b = (await cp.tenant_with_keys("b"))["tenant-admin"]
    await _vpc_and_site(cp, a)
    await cp.call("POST", "/v1/tenants/b/vpcs", b, {"id": "v1"})
    r = await cp.call("POST", "/v1/tenants/b/vpcs/v1/sites", b,
                      {"name": "steal", "hosts": ["www.b.example", "SHOP.a.example"], "upstream": "http://h"})
    assert r.status == 422 and r.body["error"]["field"] == "hosts[1]"
    assert r.body["error"]["message"] == "host 'shop.a.example' is already used by another tenant's site"
    r = await cp.call("POST", "/v1/tenants/a/vpcs", a, {"id": "v2"})
    r = await cp.call("POST", "/v1/tenants/a/vpcs/v2/sites", a,
                      {"name": "shop2", "hosts": ["shop.a.example"], "upstream": "http://h"})
    assert r.body["error"]["message"] == "host 'shop.a.example' is already used by site 'shop' (VPC 'v1')"
    r = await cp.call("POST", "/v1/tenants/a/vpcs/v2/sites", a,
                      {"name": "shop", "hosts": ["other.a.example"], "upstream": "http://h"})
    assert r.status == 409 and r.body["error"]["field"] == "name"


async def test_parents_must_exist_and_children_block_deletion(cp: ControlPlane) -> None:
    a = (await cp.tenant_with_keys("a"))["tenant-admin"]
    r = await cp.call("POST", "/v1/tenants/a/vpcs/nope/sites", a, SITE)
    assert r.status == 404
    await _vpc_and_site(cp, a)
    vpc = await cp.call("GET", "/v1/tenants/a/vpcs/v1", a)
    r = await cp.call("DELETE", "/v1/tenants/a/vpcs/v1", a, headers={"If-Match": vpc.etag})
    assert r.status == 409 and "site shop" in r.body["error"]["message"]
    t = await cp.call("GET", "/v1/tenants/a", cp.provider)
    r = await cp.call("DELETE", "/v1/tenants/a", cp.provider, headers={"If-Match": t.etag})
    assert r.status == 409 and "VPC v1" in r.body["error"]["message"]


async def test_keys_are_stored_hashed_shown_once_and_revocable(cp: ControlPlane, tmp_path) -> None:
    keys = await cp.tenant_with_keys("a")
    r = await cp.call("POST", "/v1/tenants/a/keys", keys["tenant-admin"], {"id": "soc-1", "role": "analyst"})
    assert r.status == 201 and r.body["secret"].startswith("sk_")
    secret = r.body["secret"]
    r = await cp.call("POST", "/v1/tenants/a/keys", keys["tenant-admin"], {"role": "provider-admin"})
    assert r.status == 422 and r.body["error"]["field"] == "role"
    listed = await cp.call("GET", "/v1/tenants/a/keys", keys["tenant-admin"])
    assert "secret" not in str(listed.body) and "sha256" not in str(listed.body)
    with sqlite3.connect(tmp_path / "control.db") as db:
        dump = "\n".join(db.iterdump())
    assert secret not in dump and keys["analyst"] not in dump
    assert (await cp.call("GET", "/v1/alerts", secret)).status == 200
    assert (await cp.call("DELETE", "/v1/tenants/a/keys/soc-1", keys["tenant-admin"])).status == 204
    assert (await cp.call("GET", "/v1/alerts", secret)).status == 401


async def test_change_log_records_who_what_before_after_and_is_searchable(cp: ControlPlane) -> None:
    a = (await cp.tenant_with_keys("a"))["tenant-admin"]
    b = (await cp.tenant_with_keys("b"))["tenant-admin"]
    etag = await _vpc_and_site(cp, a)
    await cp.call("PATCH", "/v1/tenants/a/vpcs/v1/sites/shop", a, {"mode": "prevent"}, headers={"If-Match": etag})
    await _vpc_and_site(cp, b, "b")
    r = await cp.call("GET", "/v1/tenants/a/changes?kind=site&action=update", a)
    assert r.status == 200 and len(r.body["changes"]) == 1
    change = r.body["changes"][0]
    assert change["before"]["mode"] == "detect" and change["after"]["mode"] == "prevent"
    assert change["actor"]["role"] == "tenant-admin" and change["path"] == "/v1/tenants/a/vpcs/v1/sites/shop"
    r = await cp.call("GET", "/v1/tenants/a/changes", a)
    assert {c["tenant"] for c in r.body["changes"]} == {"a"}, "a tenant sees only its own changes"
    r = await cp.call("GET", "/v1/changes?size=2", cp.provider)
    assert len(r.body["changes"]) == 2 and r.body["next_cursor"]
    r2 = await cp.call("GET", f"/v1/changes?size=1000&cursor={r.body['next_cursor']}", cp.provider)
    assert r2.body["changes"][0]["seq"] > r.body["changes"][-1]["seq"] and r2.body["next_cursor"] is None
    r = await cp.call("GET", "/v1/changes?tenant=b&kind=vpc", cp.provider)
    assert [c["path"] for c in r.body["changes"]] == ["/v1/tenants/b/vpcs/v1"]
    r = await cp.call("GET", "/v1/changes?from=yesterday", cp.provider)
    assert r.status == 400 and r.body["error"]["parameter"] == "from"
    r = await cp.call("GET", "/v1/changes?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z", cp.provider)
    assert r.body["changes"] == []


async def test_whoami_lists_the_control_planes_tenants_in_the_keys_scope(cp: ControlPlane) -> None:
    a = await cp.tenant_with_keys("a")
    await cp.tenant_with_keys("b")
    r = await cp.call("GET", "/v1/me", cp.provider)
    assert [t["id"] for t in r.body["tenants"]] == ["a", "b"]
    r = await cp.call("GET", "/v1/me", a["analyst"])
    assert r.body["tenants"] == [{"id": "a", "name": "Tenant a"}] and r.body["role"] == "analyst"
