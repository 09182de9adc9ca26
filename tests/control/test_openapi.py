"""The OpenAPI document is generated from the route table: a new route shows up by itself."""

from __future__ import annotations

from aiohttp import web

from services.control.openapi import build_document, operation
from tests.control.conftest import ControlPlane, openapi_document


async def test_document_is_served_without_a_key_and_lists_every_control_route(cp: ControlPlane) -> None:
    r = await cp.call("GET", "/v1/openapi.json", None)
    assert r.status == 200 and r.body["openapi"] == "3.1.0"
    paths = r.body["paths"]
    site = paths["/v1/tenants/{tenant_id}/vpcs/{vpc_id}/sites/{site_name}"]
    assert set(site) == {"get", "put", "patch", "delete"}
    assert site["patch"]["x-secchain-roles"] == ["provider-admin", "tenant-admin"]
    assert any(p["name"] == "If-Match" and p["required"] for p in site["patch"]["parameters"])
    assert {"412", "428", "422"} <= set(site["patch"]["responses"])
    body = site["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["mode"]["enum"] == ["detect", "prevent"]
    assert r.body == openapi_document(), "the served document is the one the tests are generated from"


def test_a_route_added_anywhere_appears_in_the_document() -> None:
    app = web.Application()

    @operation("Documented", roles={"analyst"})
    async def documented(_: web.Request) -> web.Response:
        return web.Response()

    async def forgotten(_: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/v1/things/{thing_id}", documented)
    app.router.add_post("/v1/things", forgotten)
    app.router.add_get("/healthz", forgotten)
    doc = build_document(app)
    assert set(doc["paths"]) == {"/v1/things/{thing_id}", "/v1/things"}
    assert doc["paths"]["/v1/things/{thing_id}"]["get"]["x-secchain-roles"] == ["analyst"]
    assert doc["paths"]["/v1/things"]["post"]["x-secchain-undocumented"] is True
