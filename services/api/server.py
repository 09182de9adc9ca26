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
    p.add_argument("--tenancy", type=Path, help="tenancy YAML whose api_keys are accepted (read-only)")
    p.add_argument("--control-db", help="serve the control plane on this database, e.g. sqlite:///var/control.db")
    p.add_argument("--bootstrap-key-file", type=Path,
                   help="with --control-db: the first provider-admin key's secret (generated if absent)")
    p.add_argument("--retention-interval", type=float, default=3600.0,
                   help="with --control-db: seconds between retention rounds (0: never)")
    p.add_argument("--store", default="sqlite:///var/audit.db", help="sqlite:///path or opensearch+http://host:port")
    p.add_argument("--log-level", default="INFO")
    return p


async def serve(args: argparse.Namespace) -> None:
    store = open_store(args.store)
    await asyncio.to_thread(store.ensure_ready)
    control = None
    if args.control_db:
        from shared.control import open_control_repository

        control = await asyncio.to_thread(open_control_repository, args.control_db)
        if args.bootstrap_key_file is not None:
            from services.control.bootstrap import ensure_bootstrap_key

            await asyncio.to_thread(ensure_bootstrap_key, control, args.bootstrap_key_file)
    state = ApiState(args.tenancy, store, CollectorRegistry(), control=control)
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
    retention = None
    if control is not None and args.retention_interval > 0:
        from services.control.retention_routes import retention_loop
        from services.control.routes import CONTROL_KEY

        retention = asyncio.create_task(retention_loop(runner.app[CONTROL_KEY], store, args.retention_interval))
    await stop.wait()
    if retention is not None:
        retention.cancel()
    await runner.cleanup()
    if control is not None:
        control.close()
    store.close()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.tenancy is None and args.control_db is None:
        parser.error("give --tenancy FILE, --control-db URL, or both")
    setup_logging("api", args.log_level)
    asyncio.run(serve(args))
    return 0
