"""aiohttp application: ``POST /v1/scan``, ``POST /v1/reload`` and the ops routes.

The body is streamed: hashed as it arrives, kept in memory up to ``memory_limit`` and spilled to a
temporary file beyond it, refused with 413 beyond ``max_body`` (checked against Content-Length first
and then against the bytes actually received, since chunked uploads have no length).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram

from services.av.alerts import av_alert
from services.av.cache import VerdictCache
from services.av.clamd_client import ClamdClient, ClamdError
from services.av.pack import CompiledPacks, PackError, compile_packs
from services.av.models import ScanResult
from services.av.scanner import PackHolder, Payload, Scanner
from services.av.settings import AvSettings
from shared.observability import add_ops_routes

log = logging.getLogger("secchain.av")

SCANNER_KEY = web.AppKey("av_scanner", Scanner)
SETTINGS_KEY = web.AppKey("av_settings", AvSettings)
AlertSink = Callable[[dict[str, Any]], None]
ALERT_SINK_KEY: web.AppKey[AlertSink] = web.AppKey("av_alert_sink")


class AvMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.scans = Counter("secchain_av_scans_total", "Scans by verdict", ["verdict", "cached"], registry=registry)
        self.bytes = Counter("secchain_av_scanned_bytes_total", "Bytes received for scanning", registry=registry)
        self.detections = Counter("secchain_av_detections_total", "Signatures reported", ["engine"], registry=registry)
        self.duration = Histogram("secchain_av_scan_seconds", "Scan duration (after upload)", registry=registry,
                                  buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.reloads = Counter("secchain_av_reloads_total", "Pack reloads", ["outcome"], registry=registry)


METRICS_KEY = web.AppKey("av_metrics", AvMetrics)


class BodyTooLarge(Exception):
    pass


async def receive(request: web.Request, settings: AvSettings) -> Payload:
    """Stream the request body into memory or a spill file; 413 beyond ``max_body``."""
    if request.content_length is not None and request.content_length > settings.max_body:
        raise BodyTooLarge(f"body of {request.content_length} bytes exceeds the {settings.max_body}-byte limit")
    digest = hashlib.sha256()
    buffer = bytearray()
    spill = None
    size = 0
    try:
        async for chunk in request.content.iter_chunked(256 * 1024):
            size += len(chunk)
            if size > settings.max_body:
                raise BodyTooLarge(f"body exceeds the {settings.max_body}-byte limit")
            digest.update(chunk)
            if spill is None and size > settings.memory_limit:
                spill = tempfile.NamedTemporaryFile(prefix="av-", dir=settings.spool_dir, delete=False)
                spill.write(buffer)
                buffer = bytearray()
            if spill is not None:
                spill.write(chunk)
            else:
                buffer += chunk
    except BaseException:
        if spill is not None:
            spill.close()
            os.unlink(spill.name)
        raise
    if spill is not None:
        spill.close()
        return Payload(digest.hexdigest(), size, path=Path(spill.name))
    return Payload(digest.hexdigest(), size, data=bytes(buffer))


def _param(request: web.Request, header: str, query: str) -> str | None:
    return request.headers.get(header) or request.query.get(query) or None


async def scan_handler(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    scanner = request.app[SCANNER_KEY]
    metrics = request.app[METRICS_KEY]
    try:
        payload = await receive(request, settings)
    except BodyTooLarge as exc:
        return web.json_response({"error": "payload_too_large", "detail": str(exc)}, status=413)
    try:
        metrics.bytes.inc(payload.size)
        started = time.perf_counter()
        result = await scanner.scan(payload)
        metrics.duration.observe(time.perf_counter() - started)
    finally:
        if payload.path is not None:
            payload.path.unlink(missing_ok=True)
    metrics.scans.labels(result.verdict, str(result.cached).lower()).inc()
    _maybe_alert(request, result)
    for sig in result.signatures:
        metrics.detections.labels(sig.engine).inc()
    if result.verdict != "clean":
        log.info("scan %s file=%s tenant=%s trace=%s sha256=%s signatures=%s reason=%s", result.verdict,
                 _param(request, "X-File-Name", "file_name"), _param(request, "X-Tenant-Id", "tenant_id"),
                 _param(request, "X-Trace-Id", "trace_id"), result.sha256, result.names, result.reason)
    return web.json_response(result.to_dict())


def _maybe_alert(request: web.Request, result: ScanResult) -> None:
    sink = request.app.get(ALERT_SINK_KEY)
    tenant = _param(request, "X-Tenant-Id", "tenant_id")
    if sink is None or not result.infected or tenant is None:
        return
    if request.headers.get("X-Av-Alert", "").lower() == "no":
        return
    sink(av_alert(result, tenant_id=tenant, vpc_id=_param(request, "X-Vpc-Id", "vpc_id"),
                  trace_id=_param(request, "X-Trace-Id", "trace_id"),
                  file_name=_param(request, "X-File-Name", "file_name"), action="alerted",
                  observer=request.app[SETTINGS_KEY].observer))


async def reload_packs(app: web.Application) -> CompiledPacks:
    """Rebuild packs aside, RELOAD clamd, swap YARA; on any failure the old packs stay."""
    settings = app[SETTINGS_KEY]
    scanner = app[SCANNER_KEY]
    metrics = app[METRICS_KEY]
    try:
        packs = await asyncio.to_thread(compile_packs, list(settings.pack_dirs), settings.database_dir)
    except PackError:
        metrics.reloads.labels("failed").inc()
        raise
    try:
        await scanner.clamd.reload()
    except ClamdError as exc:
        log.warning("clamd RELOAD failed (it keeps its old database until restarted): %s", exc)
    scanner.packs.swap(packs)
    metrics.reloads.labels("ok").inc()
    log.info("AV packs reloaded: %s (%s)", packs.label, packs.digest[:12])
    return packs


async def reload_handler(request: web.Request) -> web.Response:
    try:
        packs = await reload_packs(request.app)
    except PackError as exc:
        return web.json_response({"error": "reload_failed", "detail": str(exc),
                                  "ruleset": request.app[SCANNER_KEY].packs.current.label}, status=422)
    return web.json_response({"status": "reloaded", "ruleset": packs.label, "digest": packs.digest})


def build_app(settings: AvSettings, packs: CompiledPacks | None = None,
              alert_sink: AlertSink | None = None) -> web.Application:
    """The service app; ``packs`` pre-compiled by the caller, else compiled here from settings.

    ``alert_sink`` (e.g. ``AlertProducer.send``) receives one schema-valid alert per infected scan
    that names a tenant (``X-Tenant-Id``), unless the caller sends ``X-Av-Alert: no`` because it
    emits the alert itself (the WAF, which correlates it with its request alert).
    """
    if packs is None:
        packs = compile_packs(list(settings.pack_dirs), settings.database_dir)
    clamd = ClamdClient(settings.clamd_host, settings.clamd_port, timeout=settings.clamd_timeout,
                        connect_timeout=settings.clamd_connect_timeout)
    scanner = Scanner(clamd, PackHolder(packs), VerdictCache(settings.cache_size), settings.archive_limits)
    registry = CollectorRegistry()
    app = web.Application()
    app[SETTINGS_KEY] = settings
    app[SCANNER_KEY] = scanner
    app[METRICS_KEY] = AvMetrics(registry)
    if alert_sink is not None:
        app[ALERT_SINK_KEY] = alert_sink

    async def ready() -> tuple[bool, str]:
        try:
            pong = await clamd.ping()
        except ClamdError as exc:
            return False, str(exc)
        if not pong:
            return False, f"clamd at {clamd.host}:{clamd.port} did not answer PONG"
        return True, f"clamd up, yara {scanner.packs.current.label} loaded"

    add_ops_routes(app, registry, ready)
    app.router.add_post("/v1/scan", scan_handler)
    app.router.add_post("/v1/reload", reload_handler)
    return app
