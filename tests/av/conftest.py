"""AV test helpers: the core pack's test cases and an AV service on a real socket.

``av_service(**overrides)`` starts ``services.av`` (build_app) on a free loopback port, talking to the
session clamd (tests.plugins.clamd) unless the test points it elsewhere, and returns its base URL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from services.av.app import build_app
from services.av.pack import DEFAULT_PACK_DIR
from services.av.settings import AvSettings
from shared.runtime.ports import free_port
from tests.plugins.clamd import ClamdServer

CASES: list[dict[str, Any]] = yaml.safe_load((DEFAULT_PACK_DIR / "tests.yaml").read_text())["cases"]


def is_yara(name: str) -> bool:
    return name.startswith("Secchain.YARA.")


AvService = Callable[..., Awaitable[str]]


@pytest.fixture
async def av_service(clamd_server: ClamdServer, tmp_path: Path) -> AsyncIterator[AvService]:
    runners: list[web.AppRunner] = []

    async def start(alert_sink: Callable[[dict[str, Any]], None] | None = None, **overrides: Any) -> str:
        settings = AvSettings(database_dir=clamd_server.database_dir, clamd_port=clamd_server.port,
                              port=free_port(), spool_dir=tmp_path, clamd_timeout=20.0)
        settings = dataclasses.replace(settings, **overrides)
        app = build_app(settings, alert_sink=alert_sink)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.host, settings.port).start()
        runners.append(runner)
        return f"http://{settings.host}:{settings.port}"

    yield start
    for runner in runners:
        await runner.cleanup()
