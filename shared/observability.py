"""Health, readiness and Prometheus metrics for every service.

Every secchain process answers ``/healthz`` (the process is alive), ``/readyz`` (it can do its job:
rules loaded, broker or store reachable) and ``/metrics`` (Prometheus text format). Each service
owns a :class:`prometheus_client.CollectorRegistry` so several services can run in one test process
without colliding metric names.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

ReadyCheck = Callable[[], "tuple[bool, str] | Awaitable[tuple[bool, str]]"]

REGISTRY_KEY = web.AppKey("metrics_registry", CollectorRegistry)


def add_ops_routes(app: web.Application, registry: CollectorRegistry, ready: ReadyCheck | None = None,
                   prefix: str = "") -> None:
    """Mount /healthz, /readyz and /metrics (under ``prefix``) on ``app``."""
    app[REGISTRY_KEY] = registry

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        if ready is None:
            return web.json_response({"status": "ready"})
        result = ready()
        if inspect.isawaitable(result):
            result = await result
        ok, detail = result
        return web.json_response({"status": "ready" if ok else "not ready", "detail": detail},
                                 status=200 if ok else 503)

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get(f"{prefix}/healthz", healthz)
    app.router.add_get(f"{prefix}/readyz", readyz)
    app.router.add_get(f"{prefix}/metrics", metrics)
