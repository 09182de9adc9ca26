"""The WAF process: ``python -m services.waf`` (or ``secchain waf``).

With ``--workers N`` (default 1) a parent process starts N workers that share the data-plane and
admin sockets through SO_REUSEPORT, as nginx workers do; each worker compiles nothing twice because
the matching databases are cached on disk (``--cache-dir``). SIGHUP reloads rules and tenancy in
every worker; a reload that fails keeps the previous rules serving.

With ``--control-url`` the sites come from the control plane instead of ``--tenancy``: each worker
follows the versioned snapshots (``services.control.follower``), builds the new rule sets aside
and swaps them in; requests in flight finish on the rule set they started with.
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

from dataclasses import dataclass

from services.waf.app import WafState, make_admin_app, make_proxy_app
from services.waf.policy import PolicyStore
from shared.logsetup import setup_logging
from shared.runtime.process import run_workers as supervise_workers

log = logging.getLogger("secchain.waf")
REPO_ROOT = Path(__file__).resolve().parents[2]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="secchain waf", description="secchain WAF: inline reverse proxy")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--admin-port", type=int, default=8180, help="/healthz /readyz /metrics /reload")
    p.add_argument("--tenancy", type=Path, help="tenancy YAML (sites, upstreams, policies)")
    p.add_argument("--control-url", help="follow the control plane's snapshots instead of --tenancy, "
                                         "e.g. http://127.0.0.1:8000")
    p.add_argument("--control-key-file", type=Path,
                   help="the data-plane API key for --control-url (or SECCHAIN_CONTROL_KEY)")
    p.add_argument("--control-wait", type=int, default=10, help=argparse.SUPPRESS)
    p.add_argument("--rules-root", type=Path, default=REPO_ROOT / "rules" / "waf")
    p.add_argument("--kafka", default="127.0.0.1:9092", help="bootstrap servers")
    p.add_argument("--spool-dir", type=Path, default=Path("var/spool/waf"))
    p.add_argument("--cache-dir", type=Path, default=Path("var/cache/matching"))
    p.add_argument("--observer", default=f"waf-{socket.gethostname()}")
    p.add_argument("--crs-root", type=Path, default=Path("/usr/share/modsecurity-crs"),
                   help="OWASP CRS installation (rules/*.conf), for sites with rulesets: [crs]")
    p.add_argument("--crs-setup", type=Path, default=Path("/etc/modsecurity/crs/crs-setup.conf"))
    p.add_argument("--match-log", type=Path, default=None,
                   help="append one JSON line per request with the matched rule ids (regression runs)")
    p.add_argument("--matching-backend", choices=("auto", "hyperscan", "python"), default=None,
                   help="matching core backend (default: Hyperscan when available)")
    p.add_argument("--av-url", default=None, help="scan service for sites with antivirus on, e.g. http://127.0.0.1:8090")
    p.add_argument("--av-timeout", type=float, default=30.0, help="seconds per file before the fail policy applies")
    p.add_argument("--bundles-dir", type=Path, default=Path("var/bundles"),
                   help="published rule pack bundles, for pinned rulesets such as core@1.2.0")
    p.add_argument("--shadow-db", type=Path, default=Path("var/shadow/waf.db"),
                   help="where shadow pack differences are recorded (secchain rules diff-report)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--log-level", default="INFO")
    return p


@dataclass
class ControlledWafState(WafState):
    """Sites from control-plane snapshots; ``reload`` (SIGHUP, POST /reload) rebuilds the last one,
    re-reading the packs from disk."""

    snapshot: Any = None
    snapshot_version: int = -1

    def reload(self) -> None:
        if self.snapshot is None:
            raise RuntimeError("no configuration from the control plane yet")
        self.apply(self.snapshot, self.snapshot_version)

    def apply(self, tenancy: Any, version: int) -> None:
        try:
            self.policies.reload(tenancy)
        except Exception as exc:
            self.metrics.reload_failures.inc()
            self.policies.last_error = str(exc)
            log.error("snapshot v%d rejected, previous rules keep serving: %s", version, exc)
            raise
        # Policies first, then routing: a request routed by the new tenancy always finds its policy.
        self.tenancy = tenancy
        self.snapshot, self.snapshot_version = tenancy, version
        self.metrics.rules_generation.set(self.policies.generation)
        log.info("control-plane snapshot v%d loaded as generation %d (%d sites)", version,
                 self.policies.generation, len(tenancy.sites))


async def serve(args: argparse.Namespace) -> None:
    from shared.bus import AlertProducer

    index = args.worker_index or 0
    observer = f"{args.observer}-{index}" if args.workers > 1 else args.observer
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    registry = CollectorRegistry()
    producer = AlertProducer(args.kafka, spool_dir=args.spool_dir / f"worker-{index}", client_id=observer,
                             registry=registry)
    policies = PolicyStore(args.rules_root, args.cache_dir, crs_root=args.crs_root, crs_setup=args.crs_setup,
                           bundles_dir=args.bundles_dir)
    state_class = ControlledWafState if args.control_url else WafState
    state = state_class(tenancy_path=args.tenancy or Path("-"), policies=policies, sink=producer, observer=observer,
                        registry=registry)
    state.av_url, state.av_timeout = args.av_url, args.av_timeout
    from services.packs.shadow import ShadowEvaluator

    state.shadow = ShadowEvaluator(args.shadow_db)
    if args.match_log is not None:
        args.match_log.parent.mkdir(parents=True, exist_ok=True)
        state.match_log = open(args.match_log, "a", buffering=1)
    follower_task = None
    if isinstance(state, ControlledWafState):
        from services.control.follower import SnapshotFollower, read_control_key

        policies.bundle_source = (args.control_url, read_control_key(args.control_key_file))
        follower = SnapshotFollower(args.control_url, read_control_key(args.control_key_file), instance=observer,
                                    service="waf", apply=state.apply, wait=args.control_wait,
                                    cache_path=args.cache_dir / "control-snapshot.json")
        follower_task = asyncio.create_task(follower.run())  # /readyz says 503 until the first snapshot
    else:
        state.reload()  # at start a bad config is fatal: better than serving with no rules

    proxy_runner = web.AppRunner(make_proxy_app(state), access_log=None, handle_signals=False)
    admin_runner = web.AppRunner(make_admin_app(state), access_log=None, handle_signals=False)
    await proxy_runner.setup()
    await admin_runner.setup()
    reuse = args.workers > 1
    await web.TCPSite(proxy_runner, args.host, args.port, reuse_port=reuse, backlog=1024).start()
    await web.TCPSite(admin_runner, args.host, args.admin_port, reuse_port=reuse).start()
    log.info("WAF worker %d listening on http://%s:%d (admin %d)", index, args.host, args.port, args.admin_port)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_hup() -> None:
        async def do() -> None:
            try:
                await loop.run_in_executor(None, state.reload)
            except Exception:
                pass  # already logged; previous rules keep serving
        loop.create_task(do())

    loop.add_signal_handler(signal.SIGHUP, on_hup)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    log.info("WAF worker %d stopping", index)
    if follower_task is not None:
        follower_task.cancel()
    await proxy_runner.cleanup()
    await admin_runner.cleanup()
    await loop.run_in_executor(None, producer.close, 10.0)
    await loop.run_in_executor(None, state.shadow.close, 5.0)


def run_workers(args: argparse.Namespace, argv: list[str]) -> int:
    return supervise_workers([sys.executable, "-m", "services.waf", *argv], args.workers, what="WAF")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.tenancy is None) == (args.control_url is None):
        parser.error("give exactly one of --tenancy FILE or --control-url URL")
    setup_logging("waf", args.log_level)
    if args.matching_backend:
        from shared.matching.compile import BACKEND_ENV

        os.environ[BACKEND_ENV] = args.matching_backend  # inherited by the worker processes
    if args.workers > 1 and args.worker_index is None:
        return run_workers(args, argv)
    asyncio.run(serve(args))
    return 0
