"""``python -m services.indexer --kafka 127.0.0.1:9092 --store sqlite:///var/lib/secchain/audit.db --http-port 8095``

Runs the indexer thread and a small aiohttp server for /healthz, /readyz and /metrics. SIGTERM and
SIGINT (aiohttp's ``run_app`` turns both into a graceful exit) stop the indexer first: the batch
in hand is finished and committed if the store takes it, otherwise left uncommitted for the next
start, then the consumer leaves its group so the partitions move to another indexer at once
instead of after the session timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.indexer.indexer import Indexer
from shared.logsetup import setup_logging
from shared.observability import add_ops_routes
from shared.stores import StoreError, open_store

INDEXER_KEY = web.AppKey("indexer", Indexer)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m services.indexer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kafka", required=True, help="bootstrap servers, host:port[,host:port]")
    parser.add_argument("--store", required=True, help="sqlite:///path.db or opensearch+http(s)://host:port")
    parser.add_argument("--http-host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--group-id", default="secchain-indexer")
    parser.add_argument("--client-id", default="secchain-indexer")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--batch-wait", type=float, default=0.2, help="seconds to fill a batch")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def build_app(indexer: Indexer) -> web.Application:
    app = web.Application()
    app[INDEXER_KEY] = indexer
    add_ops_routes(app, indexer.registry, indexer.ready)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        indexer.start()
        yield
        await asyncio.to_thread(indexer.stop)
        await asyncio.to_thread(indexer.store.close)

    app.cleanup_ctx.append(lifecycle)
    return app


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging("indexer", args.log_level)
    try:
        store = open_store(args.store)
    except StoreError as exc:
        print(f"secchain indexer: {exc}", file=sys.stderr)
        return 2
    indexer = Indexer(args.kafka, store, group_id=args.group_id, client_id=args.client_id,
                      batch_size=args.batch_size, batch_wait=args.batch_wait, registry=CollectorRegistry())
    web.run_app(build_app(indexer), host=args.http_host, port=args.http_port, print=None,
                handle_signals=True, shutdown_timeout=5.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
