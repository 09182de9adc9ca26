"""Fixtures: the API service with the control plane on a temp SQLite file, over a real socket.

``cp``: a running API (control plane + audit search) with one provider-admin key
(``cp.provider``); ``await cp.tenant_with_keys("a")`` creates a tenant and returns its
tenant-admin and analyst secrets, through the API itself.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict
from prometheus_client import CollectorRegistry

from services.api.app import ApiState, make_app
from shared.control import Actor, KeyRecord, open_control_repository
from shared.control.keys import hash_key, new_secret
from shared.control.sqlite import now_rfc3339
from shared.runtime.ports import free_port
from shared.stores.sqlite import SqliteStore

BOOTSTRAP = Actor("bootstrap", "provider-admin")


@dataclass
class Reply:
    status: int
    body: Any
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)

    @property
    def etag(self) -> str:
        return self.headers["ETag"]


class ControlPlane:
    def __init__(self, server: TestServer, session: ClientSession, repo: Any, store: Any, provider: str) -> None:
        self.server, self.session, self.repo, self.store, self.provider = server, session, repo, store, provider

    @property
    def url(self) -> str:
        return str(self.server.make_url("/")).rstrip("/")

    async def call(self, method: str, path: str, key: str | None, body: Any = None, *,
                   headers: dict[str, str] | None = None, raw: bytes | None = None) -> Reply:
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = f"Bearer {key}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        async with self.session.request(method, self.server.make_url(path), data=data, headers=h) as resp:
            text = await resp.text()
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = text
            return Reply(resp.status, parsed, CIMultiDict(resp.headers))

    async def tenant_with_keys(self, tenant: str) -> dict[str, str]:
        r = await self.call("POST", "/v1/tenants", self.provider, {"id": tenant, "name": f"Tenant {tenant}"})
        assert r.status == 201, r.body
        keys = {}
        for role in ("tenant-admin", "analyst"):
            r = await self.call("POST", f"/v1/tenants/{tenant}/keys", self.provider, {"role": role})
            assert r.status == 201, r.body
            keys[role] = r.body["secret"]
        return keys


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document, built from a fresh app's route table (for collection time)."""
    import tempfile

    from services.control.openapi import build_document

    with tempfile.TemporaryDirectory() as tmp:
        repo = open_control_repository(f"sqlite:///{Path(tmp) / 'control.db'}")
        store = SqliteStore(Path(tmp) / "audit.db")
        try:
            return build_document(make_app(ApiState(None, store, CollectorRegistry(), control=repo)))
        finally:
            repo.close()
            store.close()


def provider_key(repo: Any) -> str:
    secret = new_secret()
    repo.create_key(KeyRecord("root", "provider-admin", None, hash_key(secret), "test", now_rfc3339(), "bootstrap"),
                    BOOTSTRAP)
    return secret


@pytest.fixture
async def cp(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    repo = open_control_repository(f"sqlite:///{tmp_path / 'control.db'}")
    store = SqliteStore(tmp_path / "audit.db")
    store.ensure_ready()
    secret = provider_key(repo)
    state = ApiState(None, store, CollectorRegistry(), control=repo)
    server = TestServer(make_app(state), host="127.0.0.1", port=free_port())
    await server.start_server()
    session = ClientSession()
    try:
        yield ControlPlane(server, session, repo, store, secret)
    finally:
        await session.close()
        await server.close()
        repo.close()
        store.close()
