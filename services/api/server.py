"""The API process: ``python -m services.api``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.api.app import ApiState, make_app
from shared.logsetup import setup_logging
from shared.stores import open_store

log = logging.getLogger("secchain.api")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="secchain api", description="secchain audit search API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--tenancy", required=True, type=Path)
    p.add_argument("--store", default="sqlite:///var/audit.db", help="sqlite:///path or opensearch+http://host:port")
    p.add_argument("--log-level", default="INFO")
    return p


async def serve(args: argparse.Namespace) -> None:
    store = open_store(args.store)
    await asyncio.to_thread(store.ensure_ready)
    state = ApiState(args.tenancy, store, CollectorRegistry())
    runner = web.AppRunner(make_app(state), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port).start()
    log.info("API listening on http://%s:%d", args.host, args.port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_hup() -> None:
        try:
            state.reload()
        except Exception as exc:
            log.error("tenancy reload rejected, previous keys stay valid: %s", exc)

    loop.add_signal_handler(signal.SIGHUP, on_hup)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await runner.cleanup()
    store.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging("api", args.log_level)
    asyncio.run(serve(args))
    return 0
