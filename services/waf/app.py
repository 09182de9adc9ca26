"""The WAF's aiohttp applications: the data-plane proxy and the admin listener.

The proxy is a catch-all handler: route by Host to a site, run phase 1 on the request line and
headers, buffer the body up to the site's limit and run phase 2, forward, run phase 3 on the
upstream's status and headers, then stream the body back. Admin routes (/healthz, /readyz,
/metrics, POST /reload) live on their own port so they never shadow a tenant's paths.
"""

from __future__ import annotations

import asyncio
import json
import re
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from yarl import URL

from services.waf.alerts import AlertSink, RequestFacts, alerts_for
from services.waf.antivirus import scan_uploads
from services.waf.uploads import extract_uploads
from services.waf.headers import client_response_headers, upstream_request_headers
from services.waf.policy import PolicyStore, SitePolicy
from shared.config.tenancy import Tenancy, load_tenancy
from shared.observability import add_ops_routes

log = logging.getLogger("secchain.waf")
CHUNK = 64 * 1024


class WafMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("secchain_waf_requests_total", "Requests by site and outcome",
                                ["site", "outcome"], registry=registry)
        self.latency = Histogram("secchain_waf_request_seconds", "Time from request to last byte",
                                 ["site"], registry=registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
        self.inspect = Histogram("secchain_waf_inspection_seconds", "Time spent in the rule engine",
                                 ["site"], registry=registry,
                                 buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1))
        self.alerts = Counter("secchain_waf_alerts_total", "Alerts emitted", ["site", "action"], registry=registry)
        self.rules_generation = Gauge("secchain_waf_rules_generation", "Policy snapshot generation",
                                      registry=registry)
        self.reload_failures = Counter("secchain_waf_reload_failures_total", "Rejected rule reloads",
                                       registry=registry)


@dataclass
class WafState:
    tenancy_path: Path
    policies: PolicyStore
    sink: AlertSink
    observer: str
    registry: CollectorRegistry
    tenancy: Tenancy = field(default_factory=Tenancy)
    session: aiohttp.ClientSession | None = None
    match_log: Any = None  # text file (append, line-buffered) or None
    av_client: Any = None  # services.av.client.AvClient, for sites with antivirus on
    av_url: str | None = None
    av_timeout: float = 30.0
    shadow: Any = None  # services.packs.shadow.ShadowEvaluator, for sites with a shadow pack version

    def __post_init__(self) -> None:
        self.metrics = WafMetrics(self.registry)

    def reload(self) -> None:
        """Re-read tenancy and rules; keep serving the previous ones if anything is wrong."""
        try:
            tenancy = load_tenancy(self.tenancy_path)
            self.policies.reload(tenancy)
        except Exception as exc:
            self.metrics.reload_failures.inc()
            self.policies.last_error = str(exc)
            log.error("reload rejected, previous rules keep serving: %s", exc)
            raise
        self.tenancy = tenancy
        self.metrics.rules_generation.set(self.policies.generation)
        log.info("policy generation %d loaded (%d sites)", self.policies.generation, len(tenancy.sites))


STATE_KEY = web.AppKey("waf_state", WafState)


def _blocked_response(status: int, request_id: str) -> web.Response:
    text = (
        f"{status} Request blocked\n"
        "This request was blocked by the secchain web application firewall.\n"
        f"Request ID: {request_id}\n"
    )
    return web.Response(status=status, text=text, headers={"X-Request-Id": request_id, "Cache-Control": "no-store"})


def _intervention_response(intervention: Any, request_id: str) -> web.Response:
    """The answer a SecLang disruptive action asks for: deny (status), redirect (Location), drop."""
    status = intervention.status or 403
    if intervention.action == "redirect" and intervention.url:
        return web.Response(status=status if 300 <= status < 400 else 302,
                            headers={"Location": intervention.url, "X-Request-Id": request_id})
    response = _blocked_response(status, request_id)
    if intervention.action == "drop":
        # ModSecurity's drop closes the connection; we answer once and close it, so the client's
        # keep-alive connection cannot carry further requests.
        response.force_close()
    return response


def _error_response(status: int, message: str, request_id: str) -> web.Response:
    return web.Response(status=status, text=f"{status} {message}\nRequest ID: {request_id}\n",
                        headers={"X-Request-Id": request_id})


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The whole request body, or None when it exceeds ``limit`` (the caller answers 413)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        return None
    body = bytearray()
    async for chunk in request.content.iter_chunked(CHUNK):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


class BodyTooLarge(Exception):
    """The streamed request body went past the site's limit."""


class BodyStream:
    """A request body forwarded as it arrives, counted against the site's limit."""

    def __init__(self, request: web.Request, limit: int) -> None:
        self.request = request
        self.limit = limit
        self.declared_too_large = request.content_length is not None and request.content_length > limit

    async def chunks(self):
        seen = 0
        async for chunk in self.request.content.iter_chunked(CHUNK):
            seen += len(chunk)
            if seen > self.limit:
                raise BodyTooLarge()
            yield chunk


# reg-name / IPv4 / IP-literal, optional port (RFC 3986 section 3.2.2); no percent-encoding in Host.
_HOST_FIELD = re.compile(r"^(?:[A-Za-z0-9._~!$&'()*+,;=-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


def origin_form(target: str) -> str | None:
    """The origin-form (path and query) to forward for a request target (RFC 9112 section 3.2).

    Absolute-form (``http://host/p?q``, what clients send to proxies) becomes ``/p?q``;
    authority-form, asterisk-form and a target with a fragment (which clients must not send, and
    Apache refuses) give None: the request is inspected, then refused with 400.
    """
    if "#" in target:
        return None
    if target.startswith("/"):
        path = target
    else:
        scheme, sep, rest = target.partition("://")
        if not sep or not scheme.isalpha():
            return None
        slash = rest.find("/")
        query = rest.find("?")
        if slash == -1 or (query != -1 and query < slash):
            path = "/" + (rest[query:] if query != -1 else "")
        else:
            path = rest[slash:]
    return path or "/"


def _peer(request: web.Request) -> tuple[str, int | None, str | None, int | None]:
    transport = request.transport
    client_ip, client_port, server_ip, server_port = request.remote or "", None, None, None
    if transport is not None:
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        if peer:
            client_ip, client_port = peer[0], peer[1]
        if sock:
            server_ip, server_port = sock[0], sock[1]
    return client_ip, client_port, server_ip, server_port


async def proxy_handler(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    started = time.perf_counter()
    request_id = uuid.uuid4().hex
    hosts = request.headers.getall("Host", [])
    host = hosts[0] if hosts else ""
    if len(hosts) > 1 or not _HOST_FIELD.match(host):
        # RFC 9112 section 3.2: a missing (HTTP/1.1), repeated or invalid Host is a 400, and no
        # tenant's policy applies to a request that names no site.
        # HTTP/1.0 may omit Host, but a name-routed multi-tenant proxy cannot serve it either.
        state.metrics.requests.labels("-", "bad_host").inc()
        return _error_response(400, "Missing or invalid Host header", request_id)
    site = state.tenancy.site_for_host(host)
    if site is None:
        state.metrics.requests.labels("-", "unknown_site").inc()
        return _error_response(404, "No protected site answers to this host", request_id)
    policy = state.policies.policy(site)
    if policy is None:
        state.metrics.requests.labels(site.name, "no_policy").inc()
        return _error_response(503, "Site policy not loaded", request_id)

    client_ip, client_port, server_ip, server_port = _peer(request)
    raw_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
    facts = RequestFacts(
        request_id=request_id, site=site, client_ip=client_ip, client_port=client_port,
        server_ip=server_ip, server_port=server_port, method=request.method, url=request.raw_path,
        host=host, user_agent=request.headers.get("User-Agent"), observer=state.observer,
        ruleset=policy.ruleset_label,
    )
    tx = policy.ruleset.new_transaction(client_ip=client_ip, client_port=client_port or 0,
                                        server_ip=server_ip or "", server_port=server_port or 0,
                                        unique_id=request_id)
    prevent = site.mode == "prevent"
    status: int | None = None
    blocked = False
    outcome = "forwarded"
    shadow_body = b""
    try:
        t0 = time.perf_counter()
        version = f"HTTP/{request.version.major}.{request.version.minor}"
        tx.process_request_line(request.method, request.raw_path, version)
        intervention = tx.process_request_headers(raw_headers)
        inspect_time = time.perf_counter() - t0
        if intervention is not None and prevent:
            response = _intervention_response(intervention, request_id)
            blocked, status, outcome = True, response.status, "blocked"
            return response

        body: bytes | BodyStream
        if getattr(tx, "body_access", True) or site.antivirus:
            # ModSecurity buffers the body for phase 2 when SecRequestBodyAccess is On.
            buffered = await _read_body(request, site.max_body_bytes)
            if buffered is None:
                status, outcome = 413, "too_large"
                return _error_response(413, "Request body too large", request_id)
            body = shadow_body = buffered
        else:
            # Body access Off: phase 2 runs without the body, which streams to the upstream.
            body = BodyStream(request, site.max_body_bytes)
            if body.declared_too_large:
                status, outcome = 413, "too_large"
                return _error_response(413, "Request body too large", request_id)
        t0 = time.perf_counter()
        intervention = tx.process_request_body(body if isinstance(body, bytes) else b"")
        inspect_time += time.perf_counter() - t0
        if intervention is not None and prevent:
            response = _intervention_response(intervention, request_id)
            blocked, status, outcome = True, response.status, "blocked"
            return response
        state.metrics.inspect.labels(site.name).observe(inspect_time)

        if site.antivirus and isinstance(body, bytes):
            uploads = extract_uploads(request.method, request.raw_path, request.headers.get("Content-Type", ""), body)
            if uploads:
                decision = await scan_uploads(state.av_client, uploads, facts, prevent=prevent)
                for doc in decision.alerts:
                    state.sink.send(doc)
                for doc in decision.alerts:
                    state.metrics.alerts.labels(site.name, doc["event"]["action"]).inc()
                if decision.status is not None:
                    blocked, status, outcome = True, decision.status, "av_" + ("blocked" if decision.status == 403 else "unavailable")
                    if decision.status == 403:
                        return _blocked_response(403, request_id)
                    return _error_response(503, "Upload could not be scanned; try again later", request_id)

        if request.version < (1, 0):
            # HTTP/0.9 has neither headers nor a status line; a request claiming it with headers is
            # malformed (CRS 920430 logs it above, and the proxy refuses it).
            status, outcome = 400, "bad_version"
            return _error_response(400, "HTTP/0.9 is not supported", request_id)
        path = origin_form(request.raw_path)
        if path is None:
            # authority-form (CONNECT) and asterisk-form: inspected above, but a reverse proxy
            # neither tunnels nor answers for the upstream's server-wide OPTIONS.
            if request.method == "CONNECT" and re.fullmatch(r"[^\s/]+:[0-9]{1,5}", request.raw_path):
                status, outcome = 405, "target_form"
                return _error_response(405, "CONNECT is not supported by this reverse proxy", request_id)
            status, outcome = 400, "target_form"
            return _error_response(400, "Request target not accepted by this reverse proxy", request_id)
        response, blocked = await _forward(request, state, policy, tx, body, raw_headers, client_ip,
                                           request_id, prevent, path)
        status = response.status
        if blocked:
            outcome = "blocked"
        return response
    except BodyTooLarge:
        status, outcome = 413, "too_large"
        return _error_response(413, "Request body too large", request_id)
    except (aiohttp.ClientConnectionError, OSError) as exc:
        if isinstance(exc.__cause__, BodyTooLarge) or isinstance(exc.__context__, BodyTooLarge):
            status, outcome = 413, "too_large"
            return _error_response(413, "Request body too large", request_id)
        if request.transport is None or request.transport.is_closing():
            outcome = "client_gone"
            raise
        log.warning("upstream %s unreachable: %s", site.upstream, exc)
        status, outcome = 502, "upstream_error"
        return _error_response(502, "Upstream unreachable", request_id)
    except asyncio.TimeoutError:
        status, outcome = 504, "upstream_timeout"
        return _error_response(504, "Upstream timed out", request_id)
    finally:
        try:
            tx.process_logging()
        except Exception:  # the engine must never take a request down with it
            log.exception("phase 5 failed for request %s", request_id)
        if state.match_log is not None:
            _write_match_log(state, tx, facts, status, blocked)
        docs = alerts_for(tx, facts, blocked=blocked, status=status)
        for doc in docs:
            state.sink.send(doc)
        if docs:
            state.metrics.alerts.labels(site.name, docs[0]["event"]["action"]).inc(len(docs))
        state.metrics.requests.labels(site.name, outcome).inc()
        state.metrics.latency.labels(site.name).observe(time.perf_counter() - started)
        if policy.shadow is not None and state.shadow is not None:
            _submit_shadow(state, policy, request, raw_headers, shadow_body, request_id, client_ip, client_port)


def _submit_shadow(state: WafState, policy: SitePolicy, request: web.Request, raw_headers: list[tuple[str, str]],
                   body: bytes, request_id: str, client_ip: str, client_port: int | None) -> None:
    """Queue the request for the candidate pack (services.packs.shadow); never delays or fails it."""
    from services.packs.shadow import ShadowJob

    try:
        state.shadow.submit(ShadowJob(
            tenant=policy.site.tenant_id, site=policy.site.name, active_label=policy.ruleset_label,
            candidate_label=policy.shadow_label or "", active=policy.ruleset, candidate=policy.shadow,
            request_id=request_id, method=request.method, target=request.raw_path,
            version=f"HTTP/{request.version.major}.{request.version.minor}", headers=raw_headers, body=body,
            client_ip=client_ip, client_port=client_port or 0, at=time.time()))
    except Exception:  # noqa: BLE001 - shadow evaluation is an experiment; the request is already answered
        log.exception("shadow submission failed for request %s", request_id)


def _write_match_log(state: WafState, tx: Any, facts: RequestFacts, status: int | None, blocked: bool) -> None:
    """One JSON line per request: the rule ids that matched (logged or not), in evaluation order.

    This is what a regression runner (``secchain waf regress``) reads to judge a test the way
    go-ftw reads ModSecurity's error log; one short line is appended with O_APPEND, so lines of
    several workers never interleave.
    """
    entry = {"ts": time.time(), "request_id": facts.request_id, "site": facts.site.name, "status": status,
             "blocked": blocked, "rule_ids": [m.id for m in tx.matched_rules],
             "logged_rule_ids": [m.id for m in tx.matched_rules if m.log],
             "anomaly_score": getattr(tx, "anomaly_score", None)}
    try:
        state.match_log.write(json.dumps(entry) + "\n")
    except OSError as exc:
        log.warning("match log write failed: %s", exc)


async def _forward(request: web.Request, state: WafState, policy: SitePolicy, tx: Any, body: "bytes | BodyStream",
                   raw_headers: list[tuple[str, str]], client_ip: str, request_id: str,
                   prevent: bool, path: str) -> tuple[web.StreamResponse, bool]:
    site = policy.site
    assert state.session is not None
    headers = upstream_request_headers(raw_headers, client_ip=client_ip, scheme=request.scheme)
    present = {name.lower() for name, _ in headers}
    # aiohttp's client adds these unless told not to; the upstream must see only what the client sent.
    skip = [h for h in ("Accept", "Accept-Encoding", "User-Agent", "Content-Type") if h.lower() not in present]
    url = URL(site.upstream + path, encoded=True)
    send_body: Any
    if isinstance(body, BodyStream):
        if request.content_length is not None:
            headers.append(("Content-Length", str(request.content_length)))
        send_body = body.chunks() if (request.content_length or request.body_exists) else None
    else:
        send_body = body if (body or request.content_length is not None or request.method not in ("GET", "HEAD")) else None
    timeout = aiohttp.ClientTimeout(total=None, connect=min(10.0, site.upstream_timeout),
                                    sock_read=site.upstream_timeout)
    async with state.session.request(request.method, url, headers=headers, data=send_body,
                                     allow_redirects=False, skip_auto_headers=skip, timeout=timeout) as upstream:
        resp_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in upstream.raw_headers]
        intervention = tx.process_response_headers(upstream.status, resp_headers)
        if intervention is not None and prevent:
            return _intervention_response(intervention, request_id), True
        buffered: bytes | None = None
        if getattr(tx, "wants_response_body", False) and request.method != "HEAD":
            # Phase 4 needs the body before anything reaches the client (as ModSecurity buffers it),
            # up to SecResponseBodyLimit; the rest is inspected no further but still delivered.
            limit = getattr(policy.ruleset, "response_body_limit", 512 * 1024)
            chunks = bytearray()
            while len(chunks) < limit:
                chunk = await upstream.content.read(limit - len(chunks))
                if not chunk:
                    break
                chunks += chunk
            buffered = bytes(chunks)
            intervention = tx.process_response_body(buffered)
        else:
            # Phase 4 still runs (CRS 959100 evaluates the outbound anomaly score there).
            intervention = tx.process_response_body(b"")
        if intervention is not None and prevent:
            return _intervention_response(intervention, request_id), True
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in client_response_headers(resp_headers):
            response.headers.add(name, value)
        response.headers["X-Request-Id"] = request_id
        if upstream.content_length is not None and "chunked" not in upstream.headers.get("Transfer-Encoding", ""):
            response.content_length = upstream.content_length
        await response.prepare(request)
        if request.method != "HEAD":
            if buffered:
                await response.write(buffered)
            async for chunk in upstream.content.iter_chunked(CHUNK):
                await response.write(chunk)
        await response.write_eof()
        return response, False


def make_proxy_app(state: WafState) -> web.Application:
    # client_max_size is enforced per site in _read_body; aiohttp's own limit only guards read().
    app = web.Application(client_max_size=1 << 40, middlewares=[_every_request],
                          handler_args={"max_field_size": 16384, "max_line_size": 16384})
    app[STATE_KEY] = state

    async def session_ctx(app: web.Application):
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=256, ttl_dns_cache=60, force_close=False)
        state.session = aiohttp.ClientSession(connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())
        if state.av_url:
            from services.av.client import AvClient

            state.av_client = AvClient(state.av_url, timeout=state.av_timeout)
        yield
        if state.av_client is not None:
            await state.av_client.close()
        await state.session.close()

    app.cleanup_ctx.append(session_ctx)
    return app


@web.middleware
async def _every_request(request: web.Request, handler: Any) -> web.StreamResponse:  # noqa: ARG001
    # No router: every request target (a decoded newline in the path, absolute-form, authority-form
    # for CONNECT, asterisk-form) reaches the rule engine instead of a router 404, as it would reach
    # ModSecurity in a web server.
    return await proxy_handler(request)


def make_admin_app(state: WafState) -> web.Application:
    app = web.Application()
    app[STATE_KEY] = state

    def ready() -> tuple[bool, str]:
        if state.policies.generation == 0:
            return False, state.policies.last_error or "rules not loaded"
        return True, f"policy generation {state.policies.generation}, {len(state.tenancy.sites)} sites"

    add_ops_routes(app, state.registry, ready)

    async def reload(_: web.Request) -> web.Response:
        try:
            await asyncio.get_running_loop().run_in_executor(None, state.reload)
        except Exception as exc:
            return web.json_response({"error": {"code": "reload_rejected", "message": str(exc)},
                                      "generation": state.policies.generation}, status=422)
        return web.json_response({"status": "reloaded", "generation": state.policies.generation})

    async def status(_: web.Request) -> web.Response:
        return web.json_response({"generation": state.policies.generation,
                                  "last_error": state.policies.last_error,
                                  "sites": [s.name for s in state.tenancy.sites]})

    app.router.add_post("/reload", reload)
    app.router.add_get("/status", status)
    return app
