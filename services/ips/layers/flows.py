"""Flow tracking: packets in, flow events out (sans-IO).

::

    table = FlowTable()
    for frame in read_pcap(path):
        pkt = decode(frame)
        if pkt is not None:
            for ev in table.process(pkt):
                ...  # FlowStarted, Established, PacketSeen, StreamData, StreamGap, FlowClosed
    for ev in table.flush():  # end of capture
        ...

Per TCP packet the order is: ``FlowStarted`` (first packet), ``Established`` (the handshake's last
ACK), ``PacketSeen`` (every packet, for packet keywords: ``dsize``, ``flags``, ...), then the
``StreamData`` / ``StreamGap`` the segment released, then ``FlowClosed`` (second FIN or an RST).
UDP and ICMP flows have only ``PacketSeen`` as their unit of inspection; they count as
established once the other side answered (Suricata's ``flow:established`` for UDP).

The client is the side that sent the SYN. Without one (capture started mid-connection, or UDP),
it is the first packet's sender, unless that packet comes from a port below 1024 to one above
(then it is a reply: DNS answer, HTTP response). Mid-stream TCP is picked up and treated as
established, as Suricata does with ``stream.midstream: true``; ``midstream=False`` ignores it.

Timeouts follow Suricata's defaults (``flow-timeouts``): TCP 60 s before the handshake completes,
600 s established (3600 in Suricata's default.yaml, 600 asked for here as an inline IPS holds per
flow state), 10 s after the close; UDP and other protocols 30 s new, 300 s established.
``process`` expires idle flows as packet time advances; ``expire(now)`` does it on demand
(the inline proxy calls it from a timer) and ``flush()`` closes everything at end of capture.

``flow_id`` is a positive 63-bit integer derived from the tuple and start time, so a replay of the
same capture prints the same ids (EVE ``flow_id`` correlation across runs).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from services.ips.layers.decode import TH_ACK, TH_FIN, TH_RST, TH_SYN, Packet
from services.ips.layers.reassembly import DEFAULT_MAX_BUFFERED, StreamReassembler
from services.ips.model import Direction, FlowTuple

__all__ = [
    "Flow",
    "FlowTable",
    "FlowTimeouts",
    "FlowEvent",
    "FlowStarted",
    "Established",
    "PacketSeen",
    "StreamData",
    "StreamGap",
    "FlowClosed",
]

C2S, S2C = Direction.TO_SERVER, Direction.TO_CLIENT


@dataclass(frozen=True, slots=True)
class FlowTimeouts:
    tcp_new: float = 60.0
    tcp_established: float = 600.0
    tcp_closed: float = 10.0
    udp_new: float = 30.0
    udp_established: float = 300.0
    other_new: float = 30.0
    other_established: float = 300.0


@dataclass(slots=True, eq=False)
class Flow:
    flow_id: int
    tuple: FlowTuple
    start_ts: float
    last_ts: float
    ip_proto: int
    state: str = "new"  # new | established | closed (EVE flow.state)
    tcp_state: str | None = None  # syn_sent | syn_recv | established | fin_wait | closing | closed
    pkts_toserver: int = 0
    pkts_toclient: int = 0
    bytes_toserver: int = 0
    bytes_toclient: int = 0
    close_reason: str | None = None
    midstream: bool = False
    data: Any = None  # the engine's per-flow state (FlowDetector)
    streams: tuple[StreamReassembler, StreamReassembler] | None = None  # TCP: (to_server, to_client)
    _fin: list[bool] = field(default_factory=lambda: [False, False])
    _seen: list[bool] = field(default_factory=lambda: [False, False])

    def direction_of(self, pkt: Packet) -> Direction:
        t = self.tuple
        if pkt.src_port == t.src_port and pkt.src_ip == t.src_ip and (pkt.dst_ip != t.src_ip or pkt.dst_port != t.src_port):
            return C2S
        return S2C

    def eve(self) -> dict:
        """EVE ``flow`` object (counters, start, state)."""
        return {
            "pkts_toserver": self.pkts_toserver,
            "pkts_toclient": self.pkts_toclient,
            "bytes_toserver": self.bytes_toserver,
            "bytes_toclient": self.bytes_toclient,
            "state": self.state,
        }


class FlowEvent:
    __slots__ = ("flow",)

    def __init__(self, flow: Flow) -> None:
        self.flow = flow

    def __repr__(self) -> str:
        return f"{type(self).__name__}(flow={self.flow.flow_id})"


class FlowStarted(FlowEvent):
    __slots__ = ()


class Established(FlowEvent):
    __slots__ = ("ts",)

    def __init__(self, flow: Flow, ts: float) -> None:
        self.flow = flow
        self.ts = ts


class PacketSeen(FlowEvent):
    __slots__ = ("direction", "packet")

    def __init__(self, flow: Flow, direction: Direction, packet: Packet) -> None:
        self.flow = flow
        self.direction = direction
        self.packet = packet

    def __repr__(self) -> str:
        return f"PacketSeen(flow={self.flow.flow_id}, {self.direction.name}, #{self.packet.pcap_cnt})"


class StreamData(FlowEvent):
    __slots__ = ("direction", "data", "ts", "packet")

    def __init__(self, flow: Flow, direction: Direction, data: bytes, ts: float, packet: Packet | None = None) -> None:
        self.flow = flow
        self.direction = direction
        self.data = data
        self.ts = ts
        self.packet = packet  # the packet whose arrival released these bytes (None at flush)

    def __repr__(self) -> str:
        more = "..." if len(self.data) > 32 else ""
        return f"StreamData(flow={self.flow.flow_id}, {self.direction.name}, {self.data[:32]!r}{more})"


class StreamGap(FlowEvent):
    __slots__ = ("direction", "length", "ts")

    def __init__(self, flow: Flow, direction: Direction, length: int, ts: float) -> None:
        self.flow = flow
        self.direction = direction
        self.length = length
        self.ts = ts

    def __repr__(self) -> str:
        return f"StreamGap(flow={self.flow.flow_id}, {self.direction.name}, {self.length})"


class FlowClosed(FlowEvent):
    __slots__ = ("reason", "ts")

    def __init__(self, flow: Flow, reason: str, ts: float) -> None:
        self.flow = flow
        self.reason = reason  # fin | rst | timeout | shutdown | evicted
        self.ts = ts

    def __repr__(self) -> str:
        return f"FlowClosed(flow={self.flow.flow_id}, {self.reason})"


def _flow_id(t: FlowTuple, ip_proto: int, ts: float, salt: int) -> int:
    key = f"{ip_proto}|{t.src_ip}|{t.src_port}|{t.dst_ip}|{t.dst_port}|{ts:.6f}|{salt}".encode()
    v = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") & 0x7FFF_FFFF_FFFF_FFFF
    return v or 1


class FlowTable:
    def __init__(
        self,
        timeouts: FlowTimeouts | None = None,
        *,
        max_flows: int = 1_000_000,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
        midstream: bool = True,
        expire_interval: float = 1.0,
    ) -> None:
        self.timeouts = timeouts or FlowTimeouts()
        self.max_flows = max_flows
        self.max_buffered = max_buffered
        self.midstream = midstream
        self.expire_interval = expire_interval
        self._flows: OrderedDict[tuple, Flow] = OrderedDict()  # least recently seen first
        self._ids: set[int] = set()
        self._last_expire = 0.0
        self._min_timeout = min(
            self.timeouts.tcp_new, self.timeouts.tcp_established, self.timeouts.tcp_closed,
            self.timeouts.udp_new, self.timeouts.udp_established, self.timeouts.other_new,
            self.timeouts.other_established,
        )
        self.stats = {"flows": 0, "packets": 0, "ignored": 0, "evicted": 0}

    def __len__(self) -> int:
        return len(self._flows)

    def __iter__(self):
        return iter(list(self._flows.values()))

    # -- main entry ---------------------------------------------------------------------------------
    def process(self, pkt: Packet) -> list[FlowEvent]:
        events: list[FlowEvent] = []
        ts = pkt.ts
        self.stats["packets"] += 1
        if ts - self._last_expire >= self.expire_interval:
            events.extend(self.expire(ts))
        a, b = (pkt.src_ip, pkt.src_port), (pkt.dst_ip, pkt.dst_port)
        key = (pkt.ip_proto, a, b) if a <= b else (pkt.ip_proto, b, a)
        flow = self._flows.get(key)
        tcp = pkt.ip_proto == 6 and pkt.tcp_flags is not None
        flags = pkt.tcp_flags or 0
        if flow is not None and flow.state == "closed":
            # A new SYN on a closed tuple is port reuse: a new connection.
            if tcp and flags & TH_SYN and not flags & TH_ACK:
                self._remove(key)
                flow = None
            else:
                # Late packets of a closed connection (the last ACK, retransmitted FINs) are
                # counted but not inspected: the engine already flushed the flow.
                flow.last_ts = ts
                self._flows.move_to_end(key)
                self._count(flow, flow.direction_of(pkt), pkt)
                self.stats["ignored"] += 1
                return events
        if flow is None:
            flow = self._new_flow(key, pkt, tcp, flags)
            if flow is None:
                self.stats["ignored"] += 1
                return events
            events.append(FlowStarted(flow))
        else:
            self._flows.move_to_end(key)
        flow.last_ts = ts
        d = flow.direction_of(pkt)
        self._count(flow, d, pkt)
        if tcp:
            self._tcp(flow, d, pkt, flags, events)
        else:
            if not flow._seen[d]:
                flow._seen[d] = True
                if flow.state == "new" and flow._seen[0] and flow._seen[1]:
                    flow.state = "established"
                    events.append(Established(flow, ts))
            events.append(PacketSeen(flow, d, pkt))
        return events

    def expire(self, now: float) -> list[FlowEvent]:
        """Close flows idle past their timeout at time ``now``."""
        self._last_expire = now
        events: list[FlowEvent] = []
        horizon = now - self._min_timeout
        expired = []
        for key, flow in self._flows.items():
            if flow.last_ts > horizon:
                break  # LRU order: everything after is more recent
            if now - flow.last_ts >= self._timeout(flow):
                expired.append(key)
        for key in expired:
            flow = self._flows[key]
            if flow.state != "closed":
                self._close(flow, "timeout", now, events)
            self._remove(key)
        return events

    def flush(self) -> list[FlowEvent]:
        """End of input: every open flow is closed (reason ``shutdown``) and forgotten."""
        events: list[FlowEvent] = []
        for key, flow in list(self._flows.items()):
            if flow.state != "closed":
                self._close(flow, "shutdown", flow.last_ts, events)
            self._remove(key)
        return events

    # -- internals ------------------------------------------------------------------------------------
    @staticmethod
    def _count(flow: Flow, d: Direction, pkt: Packet) -> None:
        if d is C2S:
            flow.pkts_toserver += 1
            flow.bytes_toserver += len(pkt.raw)
        else:
            flow.pkts_toclient += 1
            flow.bytes_toclient += len(pkt.raw)

    def _timeout(self, flow: Flow) -> float:
        t = self.timeouts
        if flow.ip_proto == 6:
            if flow.state == "closed":
                return t.tcp_closed
            return t.tcp_established if flow.state == "established" else t.tcp_new
        if flow.ip_proto == 17:
            return t.udp_established if flow.state == "established" else t.udp_new
        return t.other_established if flow.state == "established" else t.other_new

    def _remove(self, key: tuple) -> None:
        flow = self._flows.pop(key)
        self._ids.discard(flow.flow_id)

    def _new_flow(self, key: tuple, pkt: Packet, tcp: bool, flags: int) -> Flow | None:
        src = (pkt.src_ip, pkt.src_port)
        dst = (pkt.dst_ip, pkt.dst_port)
        midstream = False
        if tcp:
            if flags & TH_RST:
                return None  # an RST alone starts nothing
            if flags & TH_SYN and not flags & TH_ACK:
                client, server = src, dst
            elif flags & TH_SYN:  # SYN-ACK: we missed the SYN, the receiver is the client
                client, server = dst, src
            else:
                if not self.midstream:
                    return None
                midstream = True
                client, server = self._guess(src, dst)
        else:
            client, server = self._guess(src, dst)
        if len(self._flows) >= self.max_flows:
            old_key, old = next(iter(self._flows.items()))
            if old.state != "closed":
                # Evicted flows are closed without events; the caller's engine state is dropped
                # with them (Suricata's emergency mode does the same under memcap pressure).
                old.state = "closed"
                old.close_reason = "evicted"
            self._remove(old_key)
            self.stats["evicted"] += 1
        t = FlowTuple(pkt.proto, client[0], client[1], server[0], server[1])
        salt = 0
        fid = _flow_id(t, pkt.ip_proto, pkt.ts, salt)
        while fid in self._ids:
            salt += 1
            fid = _flow_id(t, pkt.ip_proto, pkt.ts, salt)
        flow = Flow(fid, t, pkt.ts, pkt.ts, pkt.ip_proto, midstream=midstream)
        if tcp:
            flow.streams = (StreamReassembler(max_buffered=self.max_buffered), StreamReassembler(max_buffered=self.max_buffered))
            flow.tcp_state = "new"
        self._ids.add(fid)
        self._flows[key] = flow
        self.stats["flows"] += 1
        return flow

    @staticmethod
    def _guess(src: tuple[str, int], dst: tuple[str, int]) -> tuple[tuple[str, int], tuple[str, int]]:
        if src[1] < 1024 <= dst[1]:
            return dst, src
        return src, dst

    def _tcp(self, flow: Flow, d: Direction, pkt: Packet, flags: int, events: list[FlowEvent]) -> None:
        streams = flow.streams
        assert streams is not None
        rs = streams[d]
        ts = pkt.ts
        if flags & TH_RST:
            if rs.in_window(pkt.seq):
                events.append(PacketSeen(flow, d, pkt))
                self._close(flow, "rst", ts, events)
            else:
                events.append(PacketSeen(flow, d, pkt))
            return
        if flags & TH_SYN:
            rs.syn(pkt.seq)
            if not flags & TH_ACK:
                flow.tcp_state = "syn_sent"
            elif d is S2C:
                flow.tcp_state = "syn_recv"
        elif flow.state == "new":
            if flow.midstream:
                flow.state = flow.tcp_state = "established"
                events.append(Established(flow, ts))
            elif flow.tcp_state == "syn_recv" and d is C2S and flags & TH_ACK:
                flow.state = flow.tcp_state = "established"
                events.append(Established(flow, ts))
            elif pkt.payload and streams[0].started and streams[1].started:
                # Data after SYN and SYN-ACK but the final ACK lost: the connection is up.
                flow.state = flow.tcp_state = "established"
                events.append(Established(flow, ts))
        events.append(PacketSeen(flow, d, pkt))
        fin = bool(flags & TH_FIN)
        if pkt.payload or fin:
            seq = (pkt.seq + 1) % (1 << 32) if flags & TH_SYN else pkt.seq
            for chunk in rs.segment(seq, pkt.payload, fin=fin):
                if isinstance(chunk, int):
                    events.append(StreamGap(flow, d, chunk, ts))
                else:
                    events.append(StreamData(flow, d, chunk, ts, pkt))
        if fin and not flow._fin[d]:
            flow._fin[d] = True
            if flow._fin[0] and flow._fin[1]:
                self._close(flow, "fin", ts, events)
            else:
                flow.tcp_state = "fin_wait"

    def _close(self, flow: Flow, reason: str, ts: float, events: list[FlowEvent]) -> None:
        if flow.streams is not None:
            for d in (C2S, S2C):
                for chunk in flow.streams[d].flush():
                    if isinstance(chunk, int):
                        events.append(StreamGap(flow, d, chunk, ts))
                    else:
                        events.append(StreamData(flow, d, chunk, ts))
            flow.tcp_state = "closed"
        flow.state = "closed"
        flow.close_reason = reason
        events.append(FlowClosed(flow, reason, ts))
