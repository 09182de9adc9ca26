"""Distribution of the configuration to the data plane: versioned snapshots and build reports.

WAF, IPS and AV instances long-poll ``GET /v1/dataplane/snapshot?after=<their version>&wait=25``
with a ``dataplane`` key. The answer is immediate when a newer version exists, otherwise it comes
the moment a change commits (or 304 when the wait runs out), so a change reaches every instance in
one round trip, like Envoy's xDS long poll rather than a fixed polling interval. The instance
builds its engines aside, swaps them in, and reports the outcome with ``POST /v1/dataplane/status``;
a failed build keeps the old engines serving and shows up in ``GET /v1/dataplane/status`` and in
the ``secchain_control_dataplane_failing`` gauge.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import jsonschema
from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge

from services.control.openapi import Param, operation
from shared.control import ControlRepository
from shared.control.model import check_json, records_to_document

if TYPE_CHECKING:
    from services.control.routes import ControlState

MAX_WAIT = 30.0
# How often a waiting poll re-reads the version even without a local notification: changes made by
# another API process on the same database are picked up within this delay.
RECHECK = 1.0
DATAPLANE_ROLES = frozenset({"dataplane", "provider-admin"})


class DataplaneHub:
    def __init__(self, repo: ControlRepository, registry: CollectorRegistry) -> None:
        self.repo = repo
        self._event = asyncio.Event()
        self._cache: tuple[int, dict[str, Any]] | None = None
        self.failing = Gauge("secchain_control_dataplane_failing",
                             "Data-plane instances whose last snapshot build failed", registry=registry)

    def notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    def snapshot(self) -> tuple[int, dict[str, Any]]:
        """(version, tenancy document) of the current configuration, built once per version."""
        version = self.repo.version()
        cached = self._cache
        if cached is not None and cached[0] == version:
            return cached
        version, records = self.repo.all_records()
        self._cache = (version, records_to_document(records))
        return self._cache

    async def wait_newer(self, after: int, wait: float) -> tuple[int, dict[str, Any]] | None:
        deadline = time.monotonic() + wait
        while True:
            event = self._event
            version = await asyncio.to_thread(self.repo.version)
            if version > after:
                return await asyncio.to_thread(self.snapshot)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                await asyncio.wait_for(event.wait(), timeout=min(remaining, RECHECK))
            except TimeoutError:
                pass


SNAPSHOT = {"type": "object", "required": ["version", "tenancy"],
            "properties": {"version": {"type": "integer"},
                           "tenancy": {"type": "object", "description": "a tenancy document (deploy/tenancy.yaml)"}}}
STATUS_IN = {"type": "object", "additionalProperties": False, "required": ["instance", "service", "version", "ok"],
             "properties": {"instance": {"type": "string", "minLength": 1, "maxLength": 200},
                            "service": {"type": "string", "enum": ["waf", "ips", "av"]},
                            "version": {"type": "integer", "minimum": 0},
                            "ok": {"type": "boolean"},
                            "error": {"type": ["string", "null"], "maxLength": 20000}}}
STATUS_OUT = {"type": "object", "required": ["version", "instances"],
              "properties": {"version": {"type": "integer"}, "instances": {"type": "array", "items": {
                  "type": "object", "required": ["instance", "service", "version", "ok"],
                  "properties": {"instance": {"type": "string"}, "service": {"type": "string"},
                                 "version": {"type": "integer"}, "ok": {"type": "boolean"},
                                 "error": {"type": ["string", "null"]}, "reported_at": {"type": "string"}}}}}}


_STATUS_VALIDATOR = jsonschema.Draft202012Validator(STATUS_IN)


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    from shared.stores import QueryParamError

    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise QueryParamError(name, f"expected an integer from {low} to {high}, got {raw!r}")
    return int(raw)


def add_dataplane_routes(app: web.Application, state: ControlState) -> None:
    from services.control.routes import _json_body, _only_params

    hub = state.hub

    @operation("The configuration snapshot for data-plane instances (long poll)", roles=DATAPLANE_ROLES,
               tags=("dataplane",), response=SNAPSHOT, etag=True,
               extra_responses={304: "No newer version arrived within `wait` seconds"},
               query=(Param("after", {"type": "integer", "minimum": 0}, "the version the caller runs"),
                      Param("wait", {"type": "integer", "minimum": 0, "maximum": int(MAX_WAIT)},
                            "seconds to wait for a newer version")))
    async def get_snapshot(request: web.Request) -> web.Response:
        _only_params(request, {"after", "wait"})
        after = _int_param(request, "after", -1, 0, 2**62)
        wait = _int_param(request, "wait", 0, 0, int(MAX_WAIT))
        found = await hub.wait_newer(after, wait)
        if found is None:
            return web.Response(status=304, headers={"ETag": f'"{after}"'})
        version, doc = found
        return web.json_response({"version": version, "tenancy": doc}, headers={"ETag": f'"{version}"'})

    @operation("Report the outcome of building a snapshot on one instance", roles=frozenset({"dataplane"}),
               tags=("dataplane",), request=STATUS_IN, status=204)
    async def post_status(request: web.Request) -> web.Response:
        body = await _json_body(request)
        check_json(_STATUS_VALIDATOR, body)
        await asyncio.to_thread(state.repo.report_status, body["instance"], body["service"], body["version"],
                                body["ok"], body.get("error"))
        statuses = await asyncio.to_thread(state.repo.statuses)
        hub.failing.set(sum(1 for s in statuses if not s["ok"]))
        return web.Response(status=204)

    @operation("Which version each data-plane instance runs, and any build failure", roles=frozenset({"provider-admin"}),
               tags=("dataplane",), response=STATUS_OUT)
    async def get_status(request: web.Request) -> web.Response:
        _only_params(request, set())
        statuses = await asyncio.to_thread(state.repo.statuses)
        return web.json_response({"version": await asyncio.to_thread(state.repo.version), "instances": statuses})

    app.router.add_get("/v1/dataplane/snapshot", get_snapshot)
    app.router.add_post("/v1/dataplane/status", post_status)
    app.router.add_get("/v1/dataplane/status", get_status)
