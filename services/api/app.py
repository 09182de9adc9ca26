"""aiohttp application for the audit search API and the SOC console it serves at ``/console``.

Every ``/v1`` route needs ``Authorization: Bearer <key>``. A key belongs to one role and, except for
provider-admin, one tenant; the tenant scope is applied here and again inside the store's query, so
a tenant key can never read another tenant's alerts. Errors are JSON:
``{"error": {"code": ..., "message": ..., "parameter": ...}}``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram

from services.control.openapi import Param, operation, operation_of
from shared.config.tenancy import ApiKey, Tenancy, hash_key, load_tenancy
from shared.control import ControlError, ControlRepository
from shared.observability import add_ops_routes
from services.api import export
from services.api.console import add_console_routes
from shared.stores import (AuditStore, QueryParamError, StoreUnavailable, TriageChange, parse_alert_query,
                           parse_export_query, parse_groups_query, parse_stats_query)

log = logging.getLogger("secchain.api")

READ_ROLES = {"provider-admin", "tenant-admin", "analyst"}


class ApiState:
    """``tenancy_path`` (a tenancy file's keys) and ``control`` (the control plane's key store) are
    both optional; a key is looked up in the control plane first."""

    def __init__(self, tenancy_path: Path | None, store: AuditStore, registry: CollectorRegistry, *,
                 control: ControlRepository | None = None) -> None:
        self.tenancy_path = tenancy_path
        self.tenancy: Tenancy = load_tenancy(tenancy_path) if tenancy_path is not None else Tenancy()
        self.control = control
        self.store = store
        self.registry = registry
        self.requests = Counter("secchain_api_requests_total", "API requests", ["route", "status"],
                                registry=registry)
        self.latency = Histogram("secchain_api_request_seconds", "API latency", ["route"], registry=registry)

    def reload(self) -> None:
        if self.tenancy_path is not None:
            self.tenancy = load_tenancy(self.tenancy_path)

    def authenticate(self, secret: str) -> ApiKey | None:
        if self.control is not None:
            # Indexed lookup by the secret's hash: timing reveals nothing about the secret itself.
            found = self.control.find_key(hash_key(secret))
            if found is not None:
                return ApiKey(id=found.id, role=found.role, sha256=found.sha256, tenant_id=found.tenant)
        return self.tenancy.authenticate(secret)

    def known_tenants(self) -> list[tuple[str, str]]:
        """(id, name) of every tenant: the control plane's, then any only in the tenancy file."""
        out = {t.id: t.name for t in self.tenancy.tenants}
        if self.control is not None:
            out.update({r.ref.tenant: r.spec.get("name", r.ref.tenant) for r in self.control.list("tenant")})
        return sorted(out.items())


STATE_KEY = web.AppKey("api_state", ApiState)
KEY_KEY = web.RequestKey("api_key", ApiKey)


class ApiError(Exception):
    """An error answered as JSON with its own status and code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error(status: int, code: str, message: str, parameter: str | None = None,
          field: str | None = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if parameter is not None:
        body["parameter"] = parameter
    if field is not None:
        body["field"] = field
    headers = {"WWW-Authenticate": 'Bearer realm="secchain"'} if status == 401 else None
    return web.json_response({"error": body}, status=status, headers=headers)


@web.middleware
async def auth_middleware(request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    if not request.path.startswith("/v1/"):
        return await handler(request)
    op = operation_of(request.match_info.handler) if request.match_info.http_exception is None else None
    if op is not None and op.public:
        return await handler(request)
    state = request.app[STATE_KEY]
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if not header:
        return error(401, "unauthenticated", "missing Authorization header; send 'Authorization: Bearer <api key>'")
    if scheme.lower() != "bearer" or not secret.strip():
        return error(401, "unauthenticated", "Authorization must be 'Bearer <api key>'")
    key = state.authenticate(secret.strip())
    if key is None:
        return error(401, "unauthenticated", "invalid API key")
    if request.match_info.http_exception is None:
        # A tenant's key naming another tenant in the path gets 404, before any role check, so
        # nothing tells it whether the other tenant or object exists.
        tenant = request.match_info.get("tenant_id")
        if tenant is not None and key.tenant_id is not None and key.tenant_id != tenant:
            return error(404, "not_found", "no such object")
        roles = op.roles if op is not None else READ_ROLES
        if key.role not in roles:
            return error(403, "forbidden", f"role {key.role} may not {request.method} {request.path}")
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
        except ControlError as exc:
            response = error(exc.status, exc.code, exc.message, field=exc.field)
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


_ALERT_FILTERS = (
    Param("q", {"type": "string", "maxLength": 1000}, "free text"),
    Param("from", {"type": "string"}, "RFC 3339 or relative (now-15m)"),
    Param("to", {"type": "string"}, "RFC 3339 or relative"),
    Param("module", {"type": "string", "enum": ["waf", "ips", "av"]}),
    Param("rule_id", {"type": "string"}), Param("source_ip", {"type": "string"}, "address or CIDR"),
    Param("severity", {"type": "integer", "minimum": 1, "maximum": 4}), Param("action", {"type": "string"}),
    Param("tenant", {"type": "string"}, "provider keys only; a tenant key may name only its own tenant"),
)
_PAGE = (Param("size", {"type": "integer", "minimum": 1, "maximum": 1000}), Param("cursor", {"type": "string"}))
_ALERT_PAGE = {"type": "object", "required": ["total", "hits", "next_cursor"],
               "properties": {"total": {"type": "integer"}, "hits": {"type": "array", "items": {"type": "object"}},
                              "next_cursor": {"type": ["string", "null"]}}}


@operation("Search alerts", roles=READ_ROLES, tags=("alerts",), query=_ALERT_FILTERS + _PAGE, response=_ALERT_PAGE,
           errors=(503,))
async def list_alerts(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    tenants, params = _scope(request)
    query = parse_alert_query(params, tenants)
    page = await asyncio.to_thread(state.store.search, query)
    return web.json_response({"total": page.total, "hits": page.hits, "next_cursor": page.next_cursor})


@operation("Alert statistics: top rules, top sources, time histogram", roles=READ_ROLES, tags=("alerts",),
           query=_ALERT_FILTERS + (Param("top", {"type": "integer", "minimum": 1, "maximum": 100}),
                                   Param("interval", {"type": "string", "examples": ["1m", "1h"]})),
           response={"type": "object"}, errors=(503,))
async def alert_stats(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    tenants, params = _scope(request)
    req = parse_stats_query(params, tenants)
    stats = await asyncio.to_thread(state.store.stats, req.query, top=req.top, interval=req.interval)
    return web.json_response(_jsonable(stats))


@operation("One alert by event id", roles=READ_ROLES, tags=("alerts",),
           query=(Param("tenant", {"type": "string"}),), response={"type": "object"}, errors=(503,))
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


async def whoami(request: web.Request) -> web.Response:
    """The signed-in key as the console shows it, and the tenants it may read (the provider's
    tenant filter lists them)."""
    state = request.app[STATE_KEY]
    key = request[KEY_KEY]
    tenants = [t for t in await asyncio.to_thread(state.known_tenants) if key.is_provider or t[0] == key.tenant_id]
    return web.json_response({"key": key.id, "role": key.role, "tenant": key.tenant_id,
                              "tenants": [{"id": tid, "name": name} for tid, name in tenants]})


async def alert_groups(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    tenants, params = _scope(request)
    req = parse_groups_query(params, tenants)
    found = await asyncio.to_thread(state.store.groups, req.query, req.by, size=req.size)
    return web.json_response({"by": list(found.by), "groups": found.groups})


async def export_alerts(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    tenants, params = _scope(request)
    req = parse_export_query(params, tenants)
    # The first page is read before the response starts, so a store that is down is still a
    # clean 503 rather than an empty file.
    page = await asyncio.to_thread(state.store.search, req.query)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    response = web.StreamResponse(headers={
        "Content-Type": export.CONTENT_TYPES[req.format],
        "Content-Disposition": f'attachment; filename="alerts-{stamp}.{req.format}"',
        "Cache-Control": "no-store"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    write = export.csv_chunk if req.format == "csv" else export.ndjson_chunk
    try:
        if req.format == "csv":
            await response.write(export.csv_header())
        while True:
            await response.write(write(page.hits))
            if page.next_cursor is None:
                break
            query = dataclasses.replace(req.query, cursor=page.next_cursor)
            page = await asyncio.to_thread(state.store.search, query)
    except (StoreUnavailable, OSError) as exc:
        # Headers are gone: the only honest signal left is to cut the connection before the final
        # chunk, so the client sees a truncated transfer instead of a complete-looking file.
        log.warning("export aborted after the response started: %s", exc)
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response


async def triage_alert(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    key = request[KEY_KEY]
    tenants, params = _scope(request)
    if params:
        raise QueryParamError(next(iter(params)), "unknown parameter")
    try:
        body = await request.json(loads=json.loads)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_body", "the body must be a JSON object such as "
                                            '{"status": "closed", "comment": "false positive"}') from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object")
    unknown = sorted(set(body) - {"status", "comment"})
    if unknown:
        raise QueryParamError(unknown[0], "unknown field; expected status and comment")
    if not isinstance(body.get("status"), str):
        raise QueryParamError("status", "required: open, acknowledged or closed")
    change = TriageChange(status=body["status"], comment=body.get("comment"), by=key.id,
                          at=datetime.now(timezone.utc))
    doc = await asyncio.to_thread(state.store.triage, request.match_info["event_id"], tenants, change)
    if doc is None:
        return error(404, "not_found", "no such alert")
    log.info("triage: %s set alert %s to %s", key.id, request.match_info["event_id"], change.status)
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
    app.router.add_get("/v1/alerts/groups", alert_groups)
    app.router.add_get("/v1/alerts/export", export_alerts)
    app.router.add_get("/v1/alerts/{event_id}", get_alert)
    if state.control is not None:
        from services.control.routes import add_control_routes

        add_control_routes(app, state.control, state.registry)
    app.router.add_post("/v1/alerts/{event_id}/triage", triage_alert)
    app.router.add_get("/v1/me", whoami)
    add_console_routes(app)
    return app
