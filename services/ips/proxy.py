"""The inline IPS: an asyncio TCP proxy that inspects each chunk before it forwards it.

One :class:`Listener` per tenancy ``ips_listeners`` entry. For every accepted connection it
connects the upstream, opens a :class:`FlowDetector` on the engine current at accept time, and
pumps both directions. A chunk read from one side goes to the detector (``on_packet`` as a
pseudo-packet, then ``on_stream`` as in-order stream data) *before* it is written to the other
side, so a ``drop`` rule stops the very bytes that matched, as Suricata's inline mode drops the
packet that completed the match.

Verdicts (Suricata's rule actions, applied to a proxied connection):

* ``alert``  log and forward.
* ``drop``   the matching chunk is not forwarded; both connections are closed (in Suricata the
             flow's later packets are dropped too, which for a proxy means ending it).
* ``reject`` like drop, and the side that sent the matching data gets a TCP RST (SO_LINGER 0),
             as Suricata's ``reject`` (= ``rejectsrc``) answers the packet's sender.
* ``pass``   the flow is no longer inspected; bytes keep flowing.

In ``detect`` mode drop and reject only alert (Suricata in IDS mode). If the engine raises on a
chunk the flow continues uninspected and the error is counted: Suricata 7's ``exception-policy:
pass-flow``, the fail-open choice for an inline device; a bad rule never takes the listener down.

Back-pressure: a pump reads at most ``CHUNK`` bytes, and does not read again until the other side
has drained what it wrote; asyncio pauses the socket when its read buffer is full, so a slow
receiver slows the sender through TCP's own window. Half-close: EOF from one side becomes
``write_eof`` to the other while the opposite direction stays open (HTTP clients that shut down
their write side after the request still get the response).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.ips.config import BuiltEngine
from services.ips.model import Direction, FlowTuple
from services.ips.output.alerts import AlertContext
from services.ips.output.eve import PKT_SRC_FLOW_END
from services.ips.output.sink import AlertOutput, AlertSink
from shared.config.tenancy import IpsListener

log = logging.getLogger("secchain.ips")

CHUNK = 64 * 1024
WRITE_HIGH_WATER = 256 * 1024
_PSH_ACK = 0x18


class IpsMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.connections = Counter("secchain_ips_connections_total", "Connections by listener and outcome "
                                   "(closed, dropped, rejected, upstream_error)", ["listener", "outcome"],
                                   registry=registry)
        self.active = Gauge("secchain_ips_connections_active", "Open proxied connections", ["listener"],
                            registry=registry)
        self.bytes = Counter("secchain_ips_bytes_total", "Payload bytes relayed", ["listener", "direction"],
                             registry=registry)
        self.alerts = Counter("secchain_ips_alerts_total", "Alerts by listener and rule action",
                              ["listener", "action"], registry=registry)
        self.inspect = Histogram("secchain_ips_inspection_seconds", "Engine time per chunk (on_packet + on_stream)",
                                 ["listener"], registry=registry,
                                 buckets=(0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                          0.05))
        self.engine_errors = Counter("secchain_ips_engine_errors_total", "Flows left uninspected after an "
                                     "engine error (exception policy pass-flow)", ["listener"], registry=registry)
        self.generation = Gauge("secchain_ips_rules_generation", "Engine table generation", registry=registry)
        self.rules_loaded = Gauge("secchain_ips_rules_loaded", "Signatures loaded per engine", ["rulesets"],
                                  registry=registry)
        self.rules_failed = Gauge("secchain_ips_rules_failed", "Rules that did not load (syntax errors)",
                                  ["rulesets"], registry=registry)
        self.reload_failures = Counter("secchain_ips_reload_failures_total", "Rejected reloads", registry=registry)


def new_flow_id() -> int:
    """A non-zero id that fits Suricata's signed 64-bit ``flow_id``."""
    return secrets.randbits(62) or 1


@dataclass(slots=True)
class ProxyFlow:
    """A proxied connection as the EVE ``flow`` object sees it (payload bytes, one packet per chunk)."""

    flow_id: int
    tuple: FlowTuple
    start_ts: float
    pkts_toserver: int = 0
    pkts_toclient: int = 0
    bytes_toserver: int = 0
    bytes_toclient: int = 0
    alert_seq: int = 0


def _verdict_name(verdict: Any) -> str | None:
    if verdict is None:
        return None
    name = getattr(verdict, "name", None) or getattr(verdict, "value", None) or str(verdict)
    return str(name).lower()


def _rst(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST: SO_LINGER on, timeout 0, then close (RFC 793 abortive release)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


@dataclass
class _Conn:
    listener: Listener
    built: BuiltEngine | None
    output: AlertOutput | None
    flow: ProxyFlow
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter]
    upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter]
    detector: Any = None
    outcome: str = "closed"
    last_activity: float = field(default_factory=time.monotonic)
    finished: bool = False
    shadow: Any = None  # services.packs.ips_shadow.FlowShadow when the listener shadows a candidate

    def _emit(self, hits: list[Any], pkt_src: str | None = None) -> None:
        lst = self.listener
        for hit in hits:
            lst.metrics.alerts.labels(lst.spec.name, hit.action).inc()
        if self.shadow is not None:
            self.shadow.active_hits(hits)
        if self.output is not None:
            kwargs = {"pkt_src": pkt_src} if pkt_src else {}
            self.flow.alert_seq = self.output.emit(hits, self.flow, seq=self.flow.alert_seq, **kwargs)

    def _inspect(self, direction: Direction, data: bytes) -> str | None:
        """Feed one chunk to the detector; returns ``drop``/``reject`` when it must not be forwarded."""
        det = self.detector
        lst = self.listener
        ts = time.time()
        started = time.perf_counter()
        try:
            hits = det.on_packet(direction, data, ts, tcp_flags=_PSH_ACK)
            more = det.on_stream(direction, data, ts)
        except Exception:
            log.exception("%s: engine error on flow %d; flow continues uninspected", lst.spec.name,
                          self.flow.flow_id)
            lst.metrics.engine_errors.labels(lst.spec.name).inc()
            self.detector = None
            return None
        lst.metrics.inspect.labels(lst.spec.name).observe(time.perf_counter() - started)
        if more:
            hits = hits + more if hits else more
        if hits:
            self._emit(hits)
        verdict = _verdict_name(det.verdict)
        if verdict is None and hits:
            for hit in hits:
                if hit.action in ("drop", "reject"):
                    verdict = hit.action
                    break
        if verdict == "pass":
            self.detector = None
        elif verdict in ("drop", "reject") and lst.spec.mode == "prevent":
            return verdict
        return None

    def _block(self, verdict: str, sender: asyncio.StreamWriter, other: asyncio.StreamWriter) -> None:
        self.outcome = "dropped" if verdict == "drop" else "rejected"
        if verdict == "reject":
            _rst(sender)
        else:
            sender.transport.abort()
        other.close()

    async def _pump(self, direction: Direction, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    back: asyncio.StreamWriter) -> None:
        flow = self.flow
        to_server = direction is Direction.TO_SERVER
        counter = self.listener.metrics.bytes.labels(self.listener.spec.name,
                                                     "to_server" if to_server else "to_client")
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                self.last_activity = time.monotonic()
                if to_server:
                    flow.pkts_toserver += 1
                    flow.bytes_toserver += len(data)
                else:
                    flow.pkts_toclient += 1
                    flow.bytes_toclient += len(data)
                counter.inc(len(data))
                if self.detector is not None:
                    verdict = self._inspect(direction, data)
                    if verdict is not None:
                        # ``back`` is the side that sent the data (it gets the RST on reject)
                        self._block(verdict, back, writer)
                        if self.shadow is not None:
                            self.shadow.feed(direction, data)
                        return
                writer.write(data)
                if self.shadow is not None:
                    # after the write: the candidate never delays forwarding (it never acts either)
                    self.shadow.feed(direction, data)
                await writer.drain()
            if writer.can_write_eof() and not writer.is_closing():
                writer.write_eof()
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            # one side vanished (reset, broken pipe): nothing more can be relayed either way
            for w in (writer, back):
                if not w.is_closing():
                    w.transport.abort()

    async def _watchdog(self, idle: float) -> None:
        while True:
            remaining = idle - (time.monotonic() - self.last_activity)
            if remaining <= 0:
                log.info("%s: flow %d idle for %.0f s, closing", self.listener.spec.name, self.flow.flow_id, idle)
                self.outcome = "idle_timeout"
                for _, w in (self.client, self.upstream):
                    w.transport.abort()
                return
            await asyncio.sleep(remaining)

    async def run(self) -> None:
        (creader, cwriter), (ureader, uwriter) = self.client, self.upstream
        for w in (cwriter, uwriter):
            w.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        watchdog = asyncio.create_task(self._watchdog(self.listener.spec.idle_timeout))
        try:
            await asyncio.gather(
                self._pump(Direction.TO_SERVER, creader, uwriter, cwriter),
                self._pump(Direction.TO_CLIENT, ureader, cwriter, uwriter),
            )
        finally:
            watchdog.cancel()
            for w in (cwriter, uwriter):
                if not w.is_closing():
                    w.close()
            if self.detector is not None:
                try:
                    hits = self.detector.on_close(time.time())
                except Exception:
                    log.exception("%s: engine error closing flow %d", self.listener.spec.name, self.flow.flow_id)
                    hits = []
                if hits:
                    self._emit(hits, PKT_SRC_FLOW_END)
            if self.shadow is not None:
                self.shadow.close()
            for w in (cwriter, uwriter):
                try:
                    await w.wait_closed()
                except (ConnectionError, OSError):
                    pass


class Listener:
    """One listening socket relaying to one upstream through the engine of its rule packs.

    ``engines`` returns the :class:`BuiltEngine` to use for a new connection (read once per
    connection, so a reload affects new flows only); ``inspect=False`` relays without any engine
    call (the benchmark's baseline).
    """

    def __init__(self, spec: IpsListener, engines: Callable[[IpsListener], BuiltEngine | None], *,
                 metrics: IpsMetrics, observer: str, sink: AlertSink | None = None, eve: Any = None,
                 inspect: bool = True, shadow_recorder: Any = None) -> None:
        self.spec = spec
        self.engines = engines
        self.metrics = metrics
        self.observer = observer
        self.sink = sink
        self.eve = eve
        self.inspect = inspect
        # where shadow differences go (services.packs.shadow.ShadowEvaluator); None: the process default
        self.shadow_recorder = shadow_recorder
        self.server: asyncio.Server | None = None
        self.address: tuple[str, int] = (spec.listen_host, spec.listen_port)  # the bound one after start()
        self._conns: set[asyncio.Task] = set()

    async def start(self, *, reuse_port: bool = False) -> None:
        self.server = await asyncio.start_server(self._accept, self.spec.listen_host, self.spec.listen_port,
                                                 reuse_port=reuse_port or None, backlog=1024, limit=CHUNK)
        self.address = tuple(self.server.sockets[0].getsockname()[:2])  # type: ignore[assignment]
        log.info("IPS listener %s on %s:%d -> %s:%d (%s)", self.spec.name, *self.address, self.spec.upstream_host,
                 self.spec.upstream_port, self.spec.mode)

    async def close(self, grace: float = 5.0) -> None:
        if self.server is not None:
            self.server.close()
        if self._conns:
            _, pending = await asyncio.wait(self._conns, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)

    def _output(self, built: BuiltEngine | None) -> AlertOutput:
        spec = self.spec
        ctx = AlertContext(tenant_id=spec.tenant_id, vpc_id=spec.vpc_id, service_name=spec.name,
                           observer=self.observer, prevent=spec.mode == "prevent",
                           rulesets=built.rulesets if built else {}, default_ruleset=built.label if built else None)
        return AlertOutput(ctx, eve=self.eve, sink=self.sink, in_iface=spec.name)

    async def _accept(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        name = self.spec.name
        self.metrics.active.labels(name).inc()
        outcome = "closed"
        try:
            outcome = await self._serve(creader, cwriter)
        except asyncio.CancelledError:
            cwriter.transport.abort()
            outcome = "shutdown"
            raise
        finally:
            self._conns.discard(task)
            self.metrics.active.labels(name).dec()
            self.metrics.connections.labels(name, outcome).inc()

    async def _serve(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> str:
        spec = self.spec
        peer = cwriter.get_extra_info("peername")
        local = cwriter.get_extra_info("sockname")
        # The flow as the client sees it on the wire: client -> the listener's address (the service
        # address a tenant publishes); a capture taken on that interface shows the same 5-tuple.
        tup = FlowTuple("tcp", peer[0], peer[1], local[0], local[1])
        flow = ProxyFlow(flow_id=new_flow_id(), tuple=tup, start_ts=time.time())
        try:
            upstream = await asyncio.wait_for(
                asyncio.open_connection(spec.upstream_host, spec.upstream_port, limit=CHUNK), spec.connect_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            log.warning("%s: upstream %s:%d unavailable (%s); closing client %s:%d", spec.name, spec.upstream_host,
                        spec.upstream_port, exc or type(exc).__name__, peer[0], peer[1])
            cwriter.transport.abort()
            return "upstream_error"
        built = self.engines(spec) if self.inspect else None
        conn = _Conn(self, built, self._output(built) if built else None, flow, (creader, cwriter), upstream)
        if built is not None and built.shadow is not None:
            from services.packs.ips_shadow import open_flow_shadow

            conn.shadow = open_flow_shadow(self.shadow_recorder, built, spec, tup, flow.flow_id, flow.start_ts)
        if built is not None:
            try:
                conn.detector = built.engine.new_flow(tup, flow_id=flow.flow_id, ts=flow.start_ts)
                opened = conn.detector.on_established(time.time())  # IP-only rules fire here
                if opened:
                    conn._emit(opened)
                    verdict = _verdict_name(conn.detector.verdict)
                    if verdict in ("drop", "reject") and spec.mode == "prevent":
                        conn._block(verdict, cwriter, upstream[1])
                        if conn.shadow is not None:
                            conn.shadow.close()
                        return conn.outcome
            except Exception:
                log.exception("%s: engine error opening flow %d; flow continues uninspected", spec.name,
                              flow.flow_id)
                self.metrics.engine_errors.labels(spec.name).inc()
                conn.detector = None
        await conn.run()
        return conn.outcome
