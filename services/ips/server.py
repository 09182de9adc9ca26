"""The IPS process: ``secchain ips run`` (or ``python -m services.ips run``).

Listeners come from the tenancy file (``ips_listeners`` of the VPCs whose ``firewall.ips`` is on),
or, for a quick start and the benchmarks, one listener from ``--listen/--upstream/--rules``.
``--workers N`` starts N processes sharing every listening socket through SO_REUSEPORT, as
Suricata's workers share a capture; the Hyperscan databases are built once and read by each
worker from the on-disk cache (``--cache-dir``).

SIGHUP or ``POST /reload`` on the admin port re-reads the tenancy and the rule packs, builds new
engines aside and swaps them in; connections already open finish on the engine they began with.
A reload that fails (unreadable pack, bad tenancy) changes nothing and answers 422 with the error.

With ``--control-url`` the listeners come from the control plane instead of a file: each worker
follows its versioned snapshots (``services.control.follower``), builds what changed aside and
reconciles its listeners (new ones opened, removed ones closed, mode and upstream applied to new
connections), and reports each outcome back; a snapshot whose engines fail to build is reported
and the previous listeners and engines keep serving.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.ips.config import DEFAULT_RULES_ROOT, EngineTable
from services.ips.proxy import IpsMetrics, Listener
from shared.config.tenancy import IpsListener, Tenancy, load_tenancy
from shared.logsetup import setup_logging
from shared.observability import add_ops_routes
from shared.runtime.process import run_workers as supervise_workers

log = logging.getLogger("secchain.ips")


class IpsService:
    """Listeners, the engine table and the reload logic of one IPS process (or worker)."""

    def __init__(self, *, tenancy_path: Path | None, engines: EngineTable, observer: str,
                 registry: CollectorRegistry, sink: Any = None, eve: Any = None, inspect: bool = True,
                 static_listeners: list[IpsListener] | None = None, reuse_port: bool = False) -> None:
        self.tenancy_path = tenancy_path
        self.engines = engines
        self.observer = observer
        self.registry = registry
        self.metrics = IpsMetrics(registry)
        self.sink = sink
        self.eve = eve
        self.inspect = inspect
        self.static_listeners = static_listeners
        self.reuse_port = reuse_port
        self.listeners: dict[tuple[str, str, str], Listener] = {}
        self._reload_lock = asyncio.Lock()
        self.controlled: Tenancy | None = None  # the last control-plane snapshot applied
        self.loop: asyncio.AbstractEventLoop | None = None

    def _wanted(self) -> list[IpsListener]:
        if self.static_listeners is not None:
            return list(self.static_listeners)
        if self.controlled is not None:
            return self.controlled.ips_listeners
        assert self.tenancy_path is not None
        tenancy: Tenancy = load_tenancy(self.tenancy_path)
        return tenancy.ips_listeners

    def _build(self) -> list[IpsListener]:
        """Blocking part of a (re)load: read the configuration and build every engine."""
        wanted = self._wanted()
        table = self.engines.rebuild(wanted if self.inspect else [])
        self.metrics.generation.set(self.engines.generation)
        for built in table.values():
            self.metrics.rules_loaded.labels(built.label).set(built.loaded)
            self.metrics.rules_failed.labels(built.label).set(len(built.errors))
            log.info("engine %s: %d signatures, %d disabled, %d errors, built in %.2f s", built.label, built.loaded,
                     built.disabled, len(built.errors), built.build_seconds)
        return wanted

    def _engine_for(self, spec: IpsListener) -> Any:
        return self.engines.engines.get(_key(spec)) if self.inspect else None

    async def reload(self) -> None:
        """Rebuild engines off the event loop, then reconcile the listeners; raises on failure."""
        async with self._reload_lock:
            try:
                wanted = await asyncio.get_running_loop().run_in_executor(None, self._build)
            except Exception as exc:
                self.metrics.reload_failures.inc()
                log.error("reload rejected, previous rules keep serving: %s", exc)
                raise
            await self._reconcile(wanted)

    def apply_snapshot(self, tenancy: Tenancy, version: int) -> None:
        """The follower's ``apply`` (runs in a worker thread): build aside, then reconcile."""
        assert self.loop is not None
        asyncio.run_coroutine_threadsafe(self._apply_snapshot(tenancy, version), self.loop).result()

    async def _apply_snapshot(self, tenancy: Tenancy, version: int) -> None:
        async with self._reload_lock:
            wanted = tenancy.ips_listeners
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, lambda: self.engines.rebuild(wanted if self.inspect else [], reuse=True))
            except Exception as exc:
                self.metrics.reload_failures.inc()
                log.error("snapshot v%d rejected, previous rules keep serving: %s", version, exc)
                raise
            self.metrics.generation.set(self.engines.generation)
            await self._reconcile(wanted)
            self.controlled = tenancy
            log.info("control-plane snapshot v%d applied: %d listeners, engine generation %d", version,
                     len(self.listeners), self.engines.generation)

    async def _reconcile(self, wanted: list[IpsListener]) -> None:
        by_id = {(s.tenant_id, s.vpc_id, s.name): s for s in wanted}
        for ident in list(self.listeners):
            lst = self.listeners[ident]
            spec = by_id.get(ident)
            if spec is None or (spec.listen_host, spec.listen_port) != (lst.spec.listen_host, lst.spec.listen_port):
                del self.listeners[ident]
                assert lst.server is not None
                lst.server.close()  # stop accepting; open connections finish on their own
        for ident, spec in by_id.items():
            lst = self.listeners.get(ident)
            if lst is not None:
                lst.spec = spec  # mode, upstream, timeouts and packs apply to new connections
                continue
            lst = Listener(spec, self._engine_for, metrics=self.metrics, observer=self.observer, sink=self.sink,
                           eve=self.eve, inspect=self.inspect)
            await lst.start(reuse_port=self.reuse_port)
            self.listeners[ident] = lst

    async def start(self) -> None:
        wanted = await asyncio.get_running_loop().run_in_executor(None, self._build)
        await self._reconcile(wanted)

    async def close(self) -> None:
        await asyncio.gather(*(lst.close() for lst in self.listeners.values()))

    def status(self) -> dict[str, Any]:
        return {
            "generation": self.engines.generation,
            "last_error": self.engines.last_error,
            "inspection": self.inspect,
            "engines": [{"rulesets": b.label, "signatures": b.loaded, "disabled": b.disabled,
                         "errors": b.errors[:50], "error_count": len(b.errors), "build_seconds": round(b.build_seconds, 3)}
                        for b in self.engines.engines.values()],
            "listeners": [{"tenant": lst.spec.tenant_id, "vpc": lst.spec.vpc_id, "name": lst.spec.name,
                           "listen": f"{lst.address[0]}:{lst.address[1]}",
                           "upstream": f"{lst.spec.upstream_host}:{lst.spec.upstream_port}", "mode": lst.spec.mode}
                          for lst in self.listeners.values()],
        }


def _key(spec: IpsListener) -> Any:
    from services.ips.config import EngineKey

    return EngineKey.of(spec)


SERVICE_KEY = web.AppKey("ips_service", IpsService)


def make_admin_app(service: IpsService) -> web.Application:
    app = web.Application()
    app[SERVICE_KEY] = service

    def ready() -> tuple[bool, str]:
        if service.engines.generation == 0:
            return False, service.engines.last_error or "rules not loaded"
        return True, f"engine generation {service.engines.generation}, {len(service.listeners)} listeners"

    add_ops_routes(app, service.registry, ready)

    async def reload(_: web.Request) -> web.Response:
        try:
            await service.reload()
        except Exception as exc:
            return web.json_response({"error": {"code": "reload_rejected", "message": str(exc)},
                                      "generation": service.engines.generation}, status=422)
        return web.json_response({"status": "reloaded", "generation": service.engines.generation})

    async def status(_: web.Request) -> web.Response:
        return web.json_response(service.status())

    app.router.add_post("/reload", reload)
    app.router.add_get("/status", status)
    return app


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="secchain ips run", description="secchain IPS: inline L4 proxy")
    p.add_argument("--config", "--tenancy", dest="tenancy", type=Path,
                   help="tenancy YAML (ips_listeners of VPCs with firewall.ips: true)")
    p.add_argument("--control-url", help="follow the control plane's snapshots instead of --config, "
                   "e.g. http://127.0.0.1:8000")
    p.add_argument("--control-key-file", type=Path,
                   help="the data-plane API key for --control-url (or SECCHAIN_CONTROL_KEY)")
    p.add_argument("--control-wait", type=int, default=10, help=argparse.SUPPRESS)
    p.add_argument("--listen", type=_host_port, help="one listener without a tenancy file, e.g. 127.0.0.1:9000")
    p.add_argument("--upstream", type=_host_port, help="with --listen: where to relay, e.g. 127.0.0.1:8081")
    p.add_argument("--mode", choices=("detect", "prevent"), default="prevent", help="with --listen")
    p.add_argument("--tenant", default="default", help="with --listen: tenant.id of its alerts")
    p.add_argument("--vpc", default=None, help="with --listen: vpc.id of its alerts")
    p.add_argument("--rules", type=Path, action="append", default=None,
                   help="rule file or folder (repeatable): used by every listener instead of its packs")
    p.add_argument("--classification", type=Path, default=None, help="classification.config for --rules")
    p.add_argument("--rules-root", type=Path, default=DEFAULT_RULES_ROOT, help="folder of IPS packs")
    p.add_argument("--no-inspection", action="store_true", help="relay only (benchmark baseline)")
    p.add_argument("--admin-host", default="127.0.0.1")
    p.add_argument("--admin-port", type=int, default=9180, help="/healthz /readyz /metrics /status POST /reload")
    p.add_argument("--kafka", default="127.0.0.1:9092", help="bootstrap servers; empty: no Kafka output")
    p.add_argument("--spool-dir", type=Path, default=Path("var/spool/ips"))
    p.add_argument("--cache-dir", type=Path, default=Path("var/cache/matching"))
    p.add_argument("--eve", type=Path, default=None, help="append EVE JSON alert records to this file")
    p.add_argument("--shadow-db", type=Path, default=None,
                   help="where listeners with a shadow pack record their differences "
                        "(default $SECCHAIN_IPS_SHADOW_DB or var/shadow/ips.db; read by `secchain rules diff-report`)")
    p.add_argument("--observer", default=f"ips-{socket.gethostname()}")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--log-level", default="INFO")
    return p


def expand_rule_paths(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        out.extend(sorted(path.glob("*.rules")) if path.is_dir() else [path])
    return out


async def serve(args: argparse.Namespace) -> None:
    if args.shadow_db is not None:  # read by services.packs.ips_shadow.default_recorder
        os.environ["SECCHAIN_IPS_SHADOW_DB"] = str(args.shadow_db)
    index = args.worker_index or 0
    observer = f"{args.observer}-{index}" if args.workers > 1 else args.observer
    registry = CollectorRegistry()
    producer = None
    if args.kafka:
        from shared.bus import AlertProducer

        producer = AlertProducer(args.kafka, spool_dir=args.spool_dir / f"worker-{index}", client_id=observer,
                                 registry=registry)
    eve = None
    if args.eve is not None:
        args.eve.parent.mkdir(parents=True, exist_ok=True)
        # line-buffered: workers append whole lines to one file (O_APPEND keeps each write intact)
        eve = open(args.eve, "a", buffering=1)
    static = None
    if args.listen is not None:
        if args.upstream is None:
            raise SystemExit("--listen needs --upstream")
        static = [IpsListener(name="cli", tenant_id=args.tenant, vpc_id=args.vpc or "default",
                              listen_host=args.listen[0], listen_port=args.listen[1],
                              upstream_host=args.upstream[0], upstream_port=args.upstream[1], mode=args.mode,
                              rulesets=())]
    elif args.tenancy is None and args.control_url is None:
        raise SystemExit("give --config TENANCY.yaml, --control-url URL or --listen HOST:PORT --upstream HOST:PORT")
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    engines = EngineTable(args.rules_root, args.cache_dir,
                          rule_files=expand_rule_paths(args.rules) if args.rules else None,
                          classification=args.classification)
    service = IpsService(tenancy_path=args.tenancy, engines=engines, observer=observer, registry=registry,
                         sink=producer, eve=eve, inspect=not args.no_inspection, static_listeners=static,
                         reuse_port=args.workers > 1)
    service.loop = asyncio.get_running_loop()
    follower_task = None
    if args.control_url and static is None:
        from services.control.follower import SnapshotFollower, read_control_key

        follower = SnapshotFollower(args.control_url, read_control_key(args.control_key_file), instance=observer,
                                    service="ips", apply=service.apply_snapshot, wait=args.control_wait,
                                    cache_path=args.cache_dir / f"control-snapshot-ips-{index}.json")
        follower_task = asyncio.create_task(follower.run())  # /readyz says 503 until the first snapshot
    else:
        await service.start()  # at start a bad configuration is fatal: better than relaying uninspected
    admin = web.AppRunner(make_admin_app(service), access_log=None, handle_signals=False)
    await admin.setup()
    await web.TCPSite(admin, args.admin_host, args.admin_port, reuse_port=args.workers > 1).start()
    log.info("IPS worker %d ready: %d listeners, admin http://%s:%d", index, len(service.listeners),
             args.admin_host, args.admin_port)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_hup() -> None:
        async def do() -> None:
            try:
                await service.reload()
            except Exception:
                pass  # logged; previous engines keep serving
        loop.create_task(do())

    loop.add_signal_handler(signal.SIGHUP, on_hup)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    log.info("IPS worker %d stopping", index)
    if follower_task is not None:
        follower_task.cancel()
    for lst in service.listeners.values():
        if lst.server is not None:
            lst.server.close()
    await service.close()
    await admin.cleanup()
    if eve is not None:
        eve.close()
    if producer is not None:
        await loop.run_in_executor(None, producer.close, 10.0)


def run_workers(args: argparse.Namespace, argv: list[str]) -> int:
    return supervise_workers([sys.executable, "-m", "services.ips", "run", *argv], args.workers, what="IPS")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    setup_logging("ips", args.log_level)
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    if args.workers > 1 and args.worker_index is None:
        return run_workers(args, argv)
    asyncio.run(serve(args))
    return 0
