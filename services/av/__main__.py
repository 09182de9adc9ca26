"""``python -m services.av``: run the scan service (clamd must already run, see shared/runtime/clamd.py).

SIGHUP reloads the packs, as ``POST /v1/reload`` does (the usual daemon convention, as clamd's own
SIGUSR2/RELOAD and Suricata's rule reload on USR2).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from aiohttp import web

from services.av.app import build_app, reload_packs
from services.av.archives import ArchiveLimits
from services.av.pack import DEFAULT_PACK_DIR, PackError
from services.av.settings import AvSettings
from shared.bus.producer import AlertProducer

log = logging.getLogger("secchain.av")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m services.av", description="secchain antivirus scan service")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--clamd-host", default="127.0.0.1")
    p.add_argument("--clamd-port", type=int, default=3310)
    p.add_argument("--clamd-timeout", type=float, default=30.0)
    p.add_argument("--database-dir", type=Path, required=True,
                   help="clamd's DatabaseDirectory; the ClamAV files of the packs are copied here")
    p.add_argument("--pack", type=Path, action="append", dest="packs",
                   help=f"AV pack directory (repeatable; default {DEFAULT_PACK_DIR})")
    p.add_argument("--memory-limit", type=int, default=1 << 20)
    p.add_argument("--max-body", type=int, default=100 * 1024 * 1024)
    p.add_argument("--spool-dir", type=Path)
    p.add_argument("--cache-size", type=int, default=10_000)
    p.add_argument("--archive-max-depth", type=int, default=3)
    p.add_argument("--archive-max-members", type=int, default=1000)
    p.add_argument("--archive-max-bytes", type=int, default=100 * 1024 * 1024)
    p.add_argument("--archive-max-ratio", type=float, default=100.0)
    p.add_argument("--observer", default="av")
    p.add_argument("--kafka-bootstrap", help="emit alerts for infected scans that name a tenant (off if unset)")
    p.add_argument("--alert-spool-dir", type=Path, help="disk spool for alerts while Kafka is unreachable")
    a = p.parse_args(argv)
    if a.kafka_bootstrap and not a.alert_spool_dir:
        p.error("--kafka-bootstrap needs --alert-spool-dir")
    return a


def settings_from(a: argparse.Namespace) -> AvSettings:
    return AvSettings(
        database_dir=a.database_dir, pack_dirs=tuple(a.packs or (DEFAULT_PACK_DIR,)), host=a.host, port=a.port,
        clamd_host=a.clamd_host, clamd_port=a.clamd_port, clamd_timeout=a.clamd_timeout,
        memory_limit=a.memory_limit, max_body=a.max_body, spool_dir=a.spool_dir, cache_size=a.cache_size,
        archive_limits=ArchiveLimits(a.archive_max_depth, a.archive_max_members, a.archive_max_bytes,
                                     a.archive_max_ratio),
        observer=a.observer,
    )


async def serve(settings: AvSettings, producer: AlertProducer | None = None) -> None:
    app = build_app(settings, alert_sink=producer.send if producer is not None else None)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    pending: set[asyncio.Task[object]] = set()

    async def hup() -> None:
        try:
            await reload_packs(app)
        except PackError as exc:
            log.error("reload failed, keeping the current packs: %s", exc)

    def on_hup() -> None:
        task = asyncio.ensure_future(hup())
        pending.add(task)
        task.add_done_callback(pending.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hup)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print(f"av listening on http://{settings.host}:{settings.port}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    producer = None
    if args.kafka_bootstrap:
        producer = AlertProducer(args.kafka_bootstrap, spool_dir=args.alert_spool_dir, client_id=args.observer)
    try:
        asyncio.run(serve(settings_from(args), producer))
    finally:
        if producer is not None:
            producer.close()


if __name__ == "__main__":
    main()
