"""aiohttp application for the audit search API.

Every ``/v1`` route needs ``Authorization: Bearer <key>``. A key belongs to one role and, except for
provider-admin, one tenant; the tenant scope is applied here and again inside the store's query, so
a tenant key can never read another tenant's alerts. Errors are JSON:
``{"error": {"code": ..., "message": ..., "parameter": ...}}``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram

from shared.config.tenancy import ApiKey, Tenancy, load_tenancy
from shared.observability import add_ops_routes
from shared.stores import AuditStore, QueryParamError, StoreUnavailable, parse_alert_query, parse_stats_query

log = logging.getLogger("secchain.api")

READ_ROLES = {"provider-admin", "tenant-admin", "analyst"}


class ApiState:
    def __init__(self, tenancy_path: Path, store: AuditStore, registry: CollectorRegistry) -> None:
        self.tenancy_path = tenancy_path
        self.tenancy: Tenancy = load_tenancy(tenancy_path)
        self.store = store
        self.registry = registry
        self.requests = Counter("secchain_api_requests_total", "API requests", ["route", "status"],
                                registry=registry)
        self.latency = Histogram("secchain_api_request_seconds", "API latency", ["route"], registry=registry)

    def reload(self) -> None:
        self.tenancy = load_tenancy(self.tenancy_path)


STATE_KEY = web.AppKey("api_state", ApiState)
KEY_KEY = web.RequestKey("api_key", ApiKey)


class ApiError(Exception):
    """An error answered as JSON with its own status and code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error(status: int, code: str, message: str, parameter: str | None = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if parameter is not None:
        body["parameter"] = parameter
    headers = {"WWW-Authenticate": 'Bearer realm="secchain"'} if status == 401 else None
    return web.json_response({"error": body}, status=status, headers=headers)


@web.middleware
async def auth_middleware(request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    if not request.path.startswith("/v1/"):
        return await handler(request)
    state = request.app[STATE_KEY]
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if not header:
        return error(401, "unauthenticated", "missing Authorization header; send 'Authorization: Bearer <api key>'")
    if scheme.lower() != "bearer" or not secret.strip():
        return error(401, "unauthenticated", "Authorization must be 'Bearer <api key>'")
    key = state.tenancy.authenticate(secret.strip())
    if key is None:
        return error(401, "unauthenticated", "invalid API key")
    if key.role not in READ_ROLES:
        return error(403, "forbidden", f"role {key.role} cannot read alerts")
    request[KEY_KEY] = key
    return await handler(request)


@web.middleware
async def error_middleware(request: web.Request,
                           handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "-"
    with state.latency.labels(route).time():
        try:
            response = await handler(request)
        except ApiError as exc:
            response = error(exc.status, exc.code, exc.message)
        except web.HTTPException as exc:
            if exc.status >= 400 and exc.content_type != "application/json":
                response = error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
            else:
                raise
        except QueryParamError as exc:
            response = error(400, "invalid_parameter", str(exc), exc.param)
        except StoreUnavailable as exc:
            log.warning("audit store unavailable: %s", exc)
            response = error(503, "store_unavailable", "the audit store is unavailable; retry shortly")
        except Exception:
            log.exception("unhandled error on %s", request.path)
            response = error(500, "internal", "internal error; see the API service log")
    state.requests.labels(route, str(response.status)).inc()
    return response


def _scope(request: web.Request) -> tuple[tuple[str, ...] | None, dict[str, str]]:
    """The tenants this key may read, and the query parameters left for the store."""
    key = request[KEY_KEY]
    params = dict(request.query)
    if len(params) != len(request.query):
        dup = next(k for k in request.query if len(request.query.getall(k)) > 1)
        raise QueryParamError(dup, "given more than once")
    tenant = params.pop("tenant", None)
    if key.is_provider:
        return ((tenant,) if tenant else None), params
    assert key.tenant_id is not None
    if tenant is not None and tenant != key.tenant_id:
        raise ApiError(403, "forbidden", f"this key is scoped to tenant {key.tenant_id!r}; it cannot read {tenant!r}")
    return (key.tenant_id,), params


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    return obj


async def list_alerts(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    tenants, params = _scope(request)
    query = parse_alert_query(params, tenants)
    page = await asyncio.to_thread(state.store.search, query)
    return web.json_response({"total": page.total, "hits": page.hits, "next_cursor": page.next_cursor})


async def alert_stats(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    tenants, params = _scope(request)
    req = parse_stats_query(params, tenants)
    stats = await asyncio.to_thread(state.store.stats, req.query, top=req.top, interval=req.interval)
    return web.json_response(_jsonable(stats))


async def get_alert(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    tenants, params = _scope(request)
    if params:
        name = next(iter(params))
        raise QueryParamError(name, "unknown parameter")
    doc = await asyncio.to_thread(state.store.get, request.match_info["event_id"], tenants)
    if doc is None:
        return error(404, "not_found", "no such alert")
    return web.json_response(doc)


def make_app(state: ApiState) -> web.Application:
    app = web.Application(middlewares=[error_middleware, auth_middleware])
    app[STATE_KEY] = state

    async def ready() -> tuple[bool, str]:
        ok = await asyncio.to_thread(state.store.ping)
        return (True, "store reachable") if ok else (False, "audit store unreachable")

    add_ops_routes(app, state.registry, ready)
    app.router.add_get("/v1/alerts", list_alerts)
    app.router.add_get("/v1/alerts/stats", alert_stats)
    app.router.add_get("/v1/alerts/{event_id}", get_alert)
    return app
