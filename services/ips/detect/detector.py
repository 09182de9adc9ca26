"""One flow's inspection: the FlowDetector the inline proxy and pcap replay both drive.

Per-flow semantics, chosen so that alerts do not depend on how the bytes were segmented (which
is what makes inline and replay agree):

- stream rules inspect the reassembled stream of their direction from its first byte, up to
  ``stream_depth`` (Suricata's ``stream.reassembly.depth``, 1 MiB by default), so ``depth`` and
  ``offset`` count from the start of the stream; each rule alerts at most once per flow and
  direction;
- app-layer rules are inspected at each progress point of a transaction and alert at most once per
  transaction (Suricata's per-transaction inspection state);
- packet rules (UDP/ICMP datagrams, TCP rules with packet keywords such as ``dsize`` or ``flags``)
  are inspected on every packet and may alert on each;
- IP-only rules alert once per flow and direction, when a TCP flow is established or on the
  first datagram of a direction.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.ips.detect.applayer import AppPoint, AppSession
from services.ips.detect.classify import BODY_BUFFERS, PAYLOAD, REQUEST_ONLY, RESPONSE_ONLY
from services.ips.detect.iponly import HeaderIndex
from services.ips.model import AppProto, Direction, FlowTuple
from services.ips.signatures.inspect import InspectContext, inspect_buffer
from services.ips.signatures.model import Signature

if TYPE_CHECKING:
    from services.ips.detect.engine import DetectEngine

PENDING_LIMIT = 64  # stream rules waiting for more data per direction (fast pattern seen, rest not yet)
PAYLOAD_EXCERPT = 4096

TRANSPORTS_ANY = frozenset({"ip", "any"})


class Verdict(str, enum.Enum):
    PASS = "pass"
    DROP = "drop"
    REJECT = "reject"


@dataclass(slots=True)
class Hit:
    """A signature that matched (and passed its threshold) in one flow."""

    sig: Signature
    direction: Direction
    ts: float
    action: str  # the rule's action: alert, drop, reject (pass rules do not alert)
    app_proto: AppProto
    payload: bytes
    stream: bool
    app: dict | None = None
    packet: Any = None

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.sig.gid, self.sig.sid, self.sig.rev)


class _StreamSizeView:
    """A packet as ``stream_size`` sees it: the packet's fields plus each side's sequence progress.

    Suricata compares ``next_seq - isn`` of each side (detect-stream_size.c), which counts the SYN
    as one byte; so do we: 1 + payload bytes sent so far, this packet included.
    """

    __slots__ = ("_packet", "stream_client_bytes", "stream_server_bytes")

    def __init__(self, packet: Any, sent: list[int]) -> None:
        self._packet = packet
        self.stream_client_bytes = sent[0] + 1
        self.stream_server_bytes = sent[1] + 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._packet, name)


@dataclass(slots=True)
class _PseudoPacket:
    """What packet keywords read when the inline proxy hands over a received chunk."""

    payload: bytes
    tcp_flags: int | None = 0x18  # PSH|ACK: a data segment
    ttl: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    ip_proto: int | None = 6
    ip_id: int | None = None
    window: int | None = None


class _TxState:
    """Per-transaction inspection state (Suricata's DetectEngineState): rules done, rules waiting."""

    __slots__ = ("tx", "done", "deferred", "scanned")

    def __init__(self, tx: Any) -> None:
        self.tx = tx
        self.done: set[int] = set()
        self.deferred: set[int] = set()
        self.scanned: set[tuple[str, Direction]] = set()


class FlowDetector:
    """Inspection state of one flow. Not thread-safe: one flow is driven by one task."""

    def __init__(self, engine: DetectEngine, flow: FlowTuple, flow_id: int, ts: float) -> None:
        self.engine = engine
        self.tuple = flow
        self.flow_id = flow_id
        self.start_ts = ts
        self.established = flow.proto != "tcp"
        self.verdict: Verdict | None = None
        self.bits: set[str] = set()
        self._hdr: tuple[dict[int, bool], dict[int, bool]] = ({}, {})
        self._ends = (
            (flow.src_ip, flow.src_port, flow.dst_ip, flow.dst_port),
            (flow.dst_ip, flow.dst_port, flow.src_ip, flow.src_port),
        )
        self._header_done = [False, False]
        self._window = [bytearray(), bytearray()]
        self._streams: list[Any] = [None, None]
        self._stream_done: tuple[set[int], set[int]] = (set(), set())
        self._pending: tuple[set[int], set[int]] = (set(), set())
        self._last_packet: list[Any] = [None, None]
        self._gapped = [False, False]
        self._sent = [0, 0]  # TCP payload bytes per side (stream_size)
        self._payload_seen: tuple[set[int], set[int]] = (set(), set())  # app rules, payload fast pattern seen
        self._always: list[tuple[int, ...] | None] = [None, None]
        self._app = AppSession(flow.proto, flow.dst_port) if flow.proto in ("tcp", "udp") else None
        self._tx_state: OrderedDict[int, _TxState] = OrderedDict()
        self._last_point: AppPoint | None = None

    # -- public events --------------------------------------------------------------------------

    @property
    def app_proto(self) -> AppProto:
        return self._app.proto if self._app is not None else AppProto.UNKNOWN

    @property
    def app_record(self) -> dict | None:
        """The EVE app object (``{"http": {...}}``) of the latest transaction seen, if any."""
        return self._last_point.eve() if self._last_point is not None else None

    @property
    def inspecting(self) -> bool:
        """False once a pass rule matched: the flow is no longer inspected (drop and reject are
        the driver's to enforce; an IDS keeps inspecting a flow it would have dropped)."""
        return self.verdict is not Verdict.PASS

    def on_established(self, ts: float) -> list[Hit]:
        self.established = True
        if self.tuple.proto != "tcp" or self.verdict is Verdict.PASS:
            return []
        hits: list[Hit] = []
        for d in (Direction.TO_SERVER, Direction.TO_CLIENT):
            self._header_rules(d, ts, hits)
        return hits

    def on_stream(self, direction: Direction, data: bytes, ts: float) -> list[Hit]:
        if self.verdict is Verdict.PASS or not data:
            return []
        hits: list[Hit] = []
        d = int(direction)
        engine = self.engine
        slot = engine.stream_slot
        window = self._window[d]
        room = engine.stream_depth - len(window)
        inspect_stream = room > 0 and slot is not None and not self._gapped[d]
        done = self._stream_done[d]
        found: list[int] = []
        if inspect_stream:
            fed = data[:room] if len(data) > room else data
            window += fed
            if slot.database is not None:
                stream = self._streams[d]
                if stream is None:
                    stream = self._streams[d] = slot.database.open_stream(max_history=engine.stream_depth)
                rules_of, is_app, seen = slot.rules_of, engine.is_app, self._payload_seen[d]
                for m in stream.feed(fed):
                    for i in rules_of[m.id]:
                        if is_app[i]:
                            seen.add(i)  # an app rule's payload fast pattern: a candidate at app points
                        elif i not in done:
                            found.append(i)
        if self._app is not None:  # after the stream scan, so app points see what it found
            for point in self._app.feed(direction, data):
                self._app_point(point, data, ts, hits)
                if self.verdict is Verdict.PASS:
                    return hits
        if not inspect_stream:
            return hits
        assert slot is not None
        candidates = [i for i in slot.always if i not in done]
        pending = self._pending[d]
        if pending:
            candidates.extend(pending)
        candidates.extend(found)
        if not candidates:
            return hits
        payload = bytes(window)
        for i in sorted(set(candidates)):
            if self._match(i, direction, payload, stream=True):
                done.add(i)
                pending.discard(i)
                self._fire(i, direction, ts, data, True, None, None, hits)
                if self.verdict is Verdict.PASS:
                    break
            elif len(pending) < PENDING_LIMIT:
                pending.add(i)
        return hits

    def on_packet(
        self,
        direction: Direction,
        payload: bytes,
        ts: float,
        *,
        tcp_flags: int | None = None,
        packet: Any = None,
    ) -> list[Hit]:
        if self.verdict is Verdict.PASS:
            return []
        if packet is None:
            packet = _PseudoPacket(payload, tcp_flags if tcp_flags is not None else 0x18)
        d = int(direction)
        transport = self.tuple.proto
        if transport == "tcp":
            self._sent[d] += len(payload)
            if self.engine.stream_size:
                packet = _StreamSizeView(packet, self._sent)
        self._last_packet[d] = packet
        hits: list[Hit] = []
        if transport != "tcp":
            self._header_rules(direction, ts, hits)
            if self.verdict is Verdict.PASS:
                return hits
            if self._app is not None and payload:
                for point in self._app.feed(direction, payload):
                    self._app_point(point, payload, ts, hits, packet=packet)
                    if self.verdict is Verdict.PASS:
                        return hits
        engine = self.engine
        slot = engine.packet_slot
        if slot is None:
            return hits
        always = self._always[d]
        if always is None:
            always = self._always[d] = self._indexed(engine.packet_index.get(transport), direction)
        candidates: list[int] = list(always)
        if slot.database is not None and payload:
            rules_of = slot.rules_of
            for pid in slot.database.matched_ids(payload):
                candidates.extend(rules_of[pid])
        if not candidates:
            return hits
        for i in sorted(set(candidates)):
            if self._match(i, direction, payload, stream=False, packet=packet):
                self._fire(i, direction, ts, payload, False, None, packet, hits)
                if self.verdict is Verdict.PASS:
                    break
        return hits

    def on_gap(self, direction: Direction, length: int, ts: float) -> list[Hit]:
        """``length`` bytes of a direction were lost (reassembly gave up waiting for them).

        The stream matcher of that direction restarts so no match spans the hole, and stream
        inspection stops for the direction (offsets after a gap no longer count from the start);
        the HTTP parser resyncs inside a body of known length, as libhtp does.
        """
        d = int(direction)
        stream = self._streams[d]
        if stream is not None:
            stream.close()
            self._streams[d] = None
        self._gapped[d] = True
        self._pending[d].clear()
        hits: list[Hit] = []
        if self._app is not None and self.verdict is not Verdict.PASS:
            for point in self._app.gap(direction, length):
                self._app_point(point, b"", ts, hits)
        return hits

    def on_close(self, ts: float) -> list[Hit]:
        hits: list[Hit] = []
        if self._app is not None and self.verdict is not Verdict.PASS:
            for point in self._app.finish():
                self._app_point(point, b"", ts, hits)
                if self.verdict is Verdict.PASS:
                    break
        for d, stream in enumerate(self._streams):
            if stream is not None:
                stream.close()
                self._streams[d] = None
        return hits

    # -- inspection -----------------------------------------------------------------------------

    def _header_ok(self, i: int, direction: Direction) -> bool:
        memo = self._hdr[int(direction)]
        hid = self.engine.header_of[i]
        ok = memo.get(hid)
        if ok is None:
            transport, sa, sp, da, dp, bidir = self.engine.headers[hid]
            src, sport, dst, dport = self._ends[int(direction)]
            if transport not in TRANSPORTS_ANY and transport != self.tuple.proto:
                ok = False
            else:
                ok = sa.contains(src) and sp.contains(sport) and da.contains(dst) and dp.contains(dport)
                if not ok and bidir:
                    ok = sa.contains(dst) and sp.contains(dport) and da.contains(src) and dp.contains(sport)
            memo[hid] = ok
        return ok

    def _indexed(self, index: HeaderIndex | None, direction: Direction) -> tuple[int, ...]:
        """The rules of an address index whose header and direction fit this flow, in order."""
        if index is None:
            return ()
        src, _, dst, _ = self._ends[int(direction)]
        hids = set(index.candidates(src, dst))  # bidirectional headers are among the generic ones
        dirs = self.engine.dirs
        out: list[int] = []
        for hid in hids:
            for i in index.by_header[hid]:
                if direction in dirs[i] and self._header_ok(i, direction):
                    out.append(i)
        return tuple(sorted(out))

    def _header_rules(self, direction: Direction, ts: float, hits: list[Hit]) -> None:
        d = int(direction)
        if self._header_done[d]:
            return
        self._header_done[d] = True
        for i in self._indexed(self.engine.header_index.get(self.tuple.proto), direction):
            if self._match(i, direction, b"", stream=False):
                self._fire(i, direction, ts, b"", False, None, None, hits)
                if self.verdict is Verdict.PASS:
                    return

    def _conditions(self, sig: Signature, direction: Direction, stream: bool, packet: Any) -> bool:
        flow = sig.flow
        if flow is not None and not flow.matches(established=self.established, direction=direction, stream=stream):
            return False
        if sig.app_proto is not None and sig.app_proto is not self.app_proto:
            return False
        if sig.app_layer is not None and not sig.app_layer.matches(self.app_proto):
            return False
        if sig.packet_checks:
            pkt = packet if packet is not None else self._last_packet[int(direction)]
            if pkt is None:
                return False
            for check in sig.packet_checks:
                if not check.match(pkt):
                    return False
        for op in sig.flowbits:
            cmd = op.cmd
            if cmd == "isset" or cmd == "isnotset":
                bits = self.bits
                if op.any_of:
                    present = any(n in bits for n in op.names)
                else:
                    present = all(n in bits for n in op.names)
                if present != (cmd == "isset"):
                    return False
        if sig.xbits:
            src, _, dst, _ = self._ends[int(direction)]
            for xop in sig.xbits:
                if xop.cmd in ("isset", "isnotset") and not self.engine.xbits.check(xop, src, dst, 0.0):
                    return False
        return True

    def _match(self, i: int, direction: Direction, payload: bytes, *, stream: bool, packet: Any = None) -> bool:
        if direction not in self.engine.dirs[i] or not self._header_ok(i, direction):
            return False
        sig = self.engine.signatures[i]
        if not self._conditions(sig, direction, stream, packet):
            return False
        if sig.buffers:
            ctx = InspectContext()
            for b in sig.buffers:
                if b.name != PAYLOAD or not inspect_buffer(b, payload, ctx):
                    return False
        return True

    def _app_point(self, point: AppPoint, data: bytes, ts: float, hits: list[Hit], packet: Any = None) -> None:
        engine = self.engine
        tx = point.tx
        direction = point.direction
        final = point.final
        state = self._tx_state.get(id(tx))
        if state is None or state.tx is not tx:
            state = self._tx_state[id(tx)] = _TxState(tx)
            if len(self._tx_state) > 32:
                self._tx_state.popitem(last=False)
        done = state.done
        self._last_point = point
        candidates: list[int] = [i for i in engine.app_always.get(point.proto, ()) if i not in done]
        on_payload = engine.app_payload.get(point.proto)
        if on_payload:
            if self.tuple.proto == "tcp":  # those whose payload fast pattern the stream has shown
                seen = self._payload_seen[int(direction)]
                candidates.extend(i for i in seen if i in on_payload and i not in done)
            else:  # datagrams have no stream database: inspect them at every point
                candidates.extend(i for i in on_payload if i not in done)
        if state.deferred:
            candidates.extend(state.deferred)
        scanned = state.scanned
        # Each buffer is scanned once per transaction and inspection direction, when it exists;
        # bodies once they are complete.
        for slot in engine.app_slots.get((point.proto, direction), ()):
            name = slot.name
            key = (name, direction)
            if key in scanned or (not final and name in BODY_BUFFERS):
                continue
            values = _values(tx, name, _side(name, direction))
            if not values:
                continue
            scanned.add(key)
            for value in values:
                candidates.extend(i for i in slot.candidates(value) if i not in done)
        if not candidates:
            return
        window = self._window[int(direction)]
        dirs = engine.dirs
        for i in sorted(set(candidates)):
            if direction not in dirs[i]:
                continue
            verdict = self._match_app(i, direction, tx, final, window)
            if verdict is None:
                state.deferred.add(i)  # a buffer it needs is not there or not final yet
                continue
            state.deferred.discard(i)
            done.add(i)
            if verdict:
                self._fire(i, direction, ts, data, False, point.eve(), packet, hits)
                if self.verdict is Verdict.PASS:
                    return

    def _match_app(self, i: int, direction: Direction, tx: Any, final: bool, window: bytearray) -> bool | None:
        engine = self.engine
        if not final and engine.needs_body[i]:
            return None
        sig = engine.signatures[i]
        if not self._header_ok(i, direction) or not self._conditions(sig, direction, True, None):
            return False
        found: list[Sequence[bytes]] = []
        for b in sig.buffers:
            if b.name == PAYLOAD:
                found.append((bytes(window),))
                continue
            values = _values(tx, b.name, _side(b.name, direction))
            if not values:  # the transaction does not have it yet (the TLS certificate after the
                return None  # ClientHello, the response of a request): inspect at a later point
            found.append(values)
        ctx = InspectContext()
        for b, values in zip(sig.buffers, found):
            if len(values) == 1:
                if not inspect_buffer(b, values[0], ctx):
                    return False
            elif not any(inspect_buffer(b, v, ctx) for v in values):  # multi-buffer (dns.query...)
                return False
        return True

    def _fire(
        self,
        i: int,
        direction: Direction,
        ts: float,
        payload: bytes,
        stream: bool,
        app: dict | None,
        packet: Any,
        hits: list[Hit],
    ) -> None:
        sig = self.engine.signatures[i]
        alert = not sig.noalert
        for op in sig.flowbits:
            cmd = op.cmd
            if cmd == "set":
                self.bits.update(op.names)
            elif cmd == "unset":
                self.bits.difference_update(op.names)
            elif cmd == "toggle":
                for n in op.names:
                    self.bits.symmetric_difference_update((n,))
            elif cmd == "noalert":
                alert = False
        if sig.xbits:
            src, _, dst, _ = self._ends[int(direction)]
            for xop in sig.xbits:
                if xop.cmd == "noalert":
                    alert = False
                elif xop.cmd in ("set", "unset", "toggle"):
                    self.engine.xbits.apply(xop, src, dst, ts)
        if sig.action == "pass":
            self.verdict = Verdict.PASS
            return
        # A drop or reject applies even when its alert is suppressed (noalert, thresholds): a
        # threshold limits what the analyst reads, not what the IPS lets through.
        if sig.action == "reject":
            self.verdict = Verdict.REJECT
        elif sig.action == "drop" and self.verdict is None:
            self.verdict = Verdict.DROP
        spec = sig.threshold or sig.detection_filter
        if spec is not None and alert:
            src, _, dst, _ = self._ends[int(direction)]
            alert = self.engine.thresholds.allow(spec, (sig.gid, sig.sid), src, dst, ts)
        if not alert:
            return
        hits.append(Hit(sig, direction, ts, sig.action, self.app_proto, payload[:PAYLOAD_EXCERPT], stream,
                        app if app is not None else self.app_record, packet))


_SIDES: dict[str, Direction] = {
    **{name: Direction.TO_SERVER for name in REQUEST_ONLY},
    **{name: Direction.TO_CLIENT for name in RESPONSE_ONLY},
}


def _side(name: str, direction: Direction) -> Direction:
    """The side whose value a buffer reads: fixed for one-sided buffers, else the rule's direction."""
    return _SIDES.get(name, direction)


def _values(tx: Any, name: str, direction: Direction) -> Sequence[bytes]:
    """A buffer's values: DNS and TLS transactions have multi-buffers (every dns.query, tls.certs)."""
    many = getattr(tx, "buffers", None)
    if many is not None:
        return [v for v in many(name) if v is not None]
    value = tx.buffer(name, direction)
    return () if value is None else (value,)
