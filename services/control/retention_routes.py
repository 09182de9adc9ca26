"""``POST /v1/retention/run``: apply every VPC's retention now (the API also runs it periodically)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from services.control.openapi import operation
from shared.control.retention import enforce_retention

if TYPE_CHECKING:
    from services.control.routes import ControlState

RESULT = {"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": {
    "type": "object", "required": ["tenant", "vpc", "retention_days", "cutoff", "deleted"],
    "properties": {"tenant": {"type": "string"}, "vpc": {"type": "string"}, "retention_days": {"type": "integer"},
                   "cutoff": {"type": "string"}, "deleted": {"type": "integer"}}}}}}


def add_retention_routes(app: web.Application, state: ControlState, store: Callable[[], Any]) -> None:
    from services.control.routes import _only_params

    @operation("Delete the alerts every VPC's retention says are due, now", roles=frozenset({"provider-admin"}),
               tags=("retention",), response=RESULT, errors=(503,))
    async def run_retention(request: web.Request) -> web.Response:
        _only_params(request, set())
        results = await asyncio.to_thread(enforce_retention, state.repo, store())
        return web.json_response({"results": [dataclasses.asdict(r) for r in results]})

    app.router.add_post("/v1/retention/run", run_retention)


async def retention_loop(state: ControlState, store: Any, interval: float) -> None:
    """Enforce retention every ``interval`` seconds until cancelled; a failing store is retried later."""
    import logging

    log = logging.getLogger("secchain.control.retention")
    while True:
        try:
            await asyncio.to_thread(enforce_retention, state.repo, store)
        except Exception as exc:  # the store may be down; the next round retries
            log.warning("retention round failed: %s", exc)
        await asyncio.sleep(interval)
