"""The detection engine: compiled once from a rule set, shared by every flow; one detector per flow.

``DetectEngine.build(rules)`` sorts the rules (``classify.order``), decides how each is inspected
(IP-only, packet, stream, app-layer), and compiles one Hyperscan database per inspection slot
(``prefilter.py``). It is immutable afterwards: a reload builds a new engine aside and the drivers
swap it in one assignment, new flows taking the new one while flows in progress finish on the old,
as Suricata's detect-engine reload does (``DetectEngineReload``).

``engine.new_flow(tuple, flow_id=..., ts=...)`` returns a :class:`FlowDetector`, which takes the
flow's events (``on_established``, ``on_stream`` for in-order TCP bytes, ``on_packet`` for each
packet or datagram, ``on_close``) and returns :class:`Hit` objects. The inline proxy and pcap
replay drive the same detector, so they give the same alerts for the same traffic.

What a flow sees (which rules, how often) is described in ``detector.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from services.ips.detect.classify import BODY_BUFFERS, Kind, directions_of, kind_of, order
from services.ips.detect.detector import TRANSPORTS_ANY, FlowDetector, Hit, Verdict
from services.ips.detect.iponly import HeaderIndex
from services.ips.detect.prefilter import PACKET_SLOT, STREAM_SLOT, Slot, build_slot, payload_prefilter, slot_of
from services.ips.detect.state import ThresholdTracker, XbitStore
from services.ips.model import AppProto, Direction, FlowTuple
from services.ips.signatures.keywords.stream_size import StreamSize
from services.ips.signatures.model import Signature

log = logging.getLogger(__name__)

DEFAULT_STREAM_DEPTH = 1 << 20

__all__ = ["DEFAULT_STREAM_DEPTH", "DetectEngine", "FlowDetector", "Hit", "Verdict"]


class DetectEngine:
    """Immutable compiled rules. Build with :meth:`build`; share between flows and threads."""

    def __init__(
        self,
        sigs: tuple[Signature, ...],
        kinds: tuple[Kind, ...],
        dirs: tuple[frozenset[Direction], ...],
        header_of: tuple[int, ...],
        headers: tuple[tuple[Any, ...], ...],
        slots: dict[str, Slot],
        app_always: dict[AppProto, tuple[int, ...]],
        app_payload: dict[AppProto, frozenset[int]],
        app_slots: dict[tuple[AppProto, Direction], tuple[Slot, ...]],
        header_rules: dict[str, tuple[int, ...]],
        stats: dict[str, Any],
        stream_depth: int,
    ) -> None:
        self.signatures = sigs
        self.kinds = kinds
        self.dirs = dirs
        self.header_of = header_of
        self.headers = headers
        self.slots = slots
        self.app_always = app_always
        self.app_payload = app_payload
        self.is_app = tuple(k is Kind.APP for k in kinds)
        self.app_slots = app_slots
        self.header_rules = header_rules
        self.stream_size = any(isinstance(c, StreamSize) for s in sigs for c in s.packet_checks)
        self.needs_body = tuple(any(b.name in BODY_BUFFERS for b in s.buffers) for s in sigs)
        self.stats = stats
        self.stream_depth = stream_depth
        self.thresholds = ThresholdTracker()
        self.xbits = XbitStore()
        stream_slot = slots.get(STREAM_SLOT)
        self.stream_slot = stream_slot
        self.packet_slot = slots.get(PACKET_SLOT)
        packet_always = self.packet_slot.always if self.packet_slot else ()
        # Rules without a fast pattern (reputation lists, flags/dsize-only rules) are found by
        # address instead (iponly.py); per transport, as a flow has one.
        self.packet_index = {
            t: HeaderIndex(headers, [(i, header_of[i]) for i in packet_always if sigs[i].transport in (t, "ip", "any")])
            for t in ("tcp", "udp", "icmp", "ip")
        }
        self.header_index = {
            t: HeaderIndex(headers, [(i, header_of[i]) for i in rules]) for t, rules in header_rules.items()
        }

    @classmethod
    def build(
        cls,
        rules: Any,
        *,
        cache_dir: Path | None = None,
        backend: str = "auto",
        stream_depth: int = DEFAULT_STREAM_DEPTH,
    ) -> DetectEngine:
        """``rules``: a ``RuleSet`` (its enabled ``signatures``) or an iterable of Signature."""
        started = time.perf_counter()
        signatures: Iterable[Signature] = getattr(rules, "signatures", rules)
        sigs = tuple(order(list(signatures)))
        kinds = tuple(kind_of(s) for s in sigs)
        dirs = tuple(frozenset(directions_of(s)) for s in sigs)
        header_ids: dict[tuple, int] = {}
        headers: list[tuple[Any, ...]] = []
        header_of: list[int] = []
        for s in sigs:
            key = (s.transport, s.src_addr.text, s.src_ports.text, s.dst_addr.text, s.dst_ports.text, s.bidirectional)
            hid = header_ids.get(key)
            if hid is None:
                hid = header_ids[key] = len(headers)
                headers.append((s.transport, s.src_addr, s.src_ports, s.dst_addr, s.dst_ports, s.bidirectional))
            header_of.append(hid)
        members: dict[str, list[tuple[int, Signature]]] = {}
        app_always: dict[AppProto, list[int]] = {}
        app_payload: dict[AppProto, list[int]] = {}
        header_rules: dict[str, list[int]] = {}
        for i, (s, kind) in enumerate(zip(sigs, kinds)):
            if kind is Kind.HEADER:
                for t in (("tcp", "udp", "icmp", "ip") if s.transport in TRANSPORTS_ANY else (s.transport,)):
                    header_rules.setdefault(t, []).append(i)
                continue
            name = slot_of(s, kind)
            if name:
                members.setdefault(name, []).append((i, s))
            elif kind is Kind.APP and payload_prefilter(s):
                # An app rule whose fast pattern is a payload content (``content:"QVOD"; http.uri;
                # ...``): its pattern goes into the TCP stream database and the rule becomes a
                # candidate at the flow's app points once the stream has shown the pattern.
                members.setdefault(STREAM_SLOT, []).append((i, s))
                for proto in _protos_of(s):
                    app_payload.setdefault(proto, []).append(i)
            else:  # app rule without a usable fast pattern
                for proto in _protos_of(s):
                    app_always.setdefault(proto, []).append(i)
        slots: dict[str, Slot] = {}
        compile_s = 0.0
        for name, group in members.items():
            slot, took = build_slot(name, group, stream=name == STREAM_SLOT, cache_dir=cache_dir, backend=backend)
            slots[name] = slot
            compile_s += took
        app_slots: dict[tuple[AppProto, Direction], list[Slot]] = {}
        for name, slot in slots.items():
            if name in (STREAM_SLOT, PACKET_SLOT):
                continue
            slot_dirs = set().union(*(dirs[i] for ids in slot.rules_of for i in ids)) if slot.rules_of else set()
            for proto in _protos_of_buffer(name):
                for d in sorted(slot_dirs):
                    app_slots.setdefault((proto, d), []).append(slot)
        stats = {
            "rules": len(sigs),
            "by_kind": {k.name.lower(): sum(1 for x in kinds if x is k) for k in Kind},
            "headers": len(headers),
            "slots": {n: {"patterns": len(s.rules_of), "always": len(s.always)} for n, s in slots.items()},
            "app_rules_on_stream_patterns": sum(len(v) for v in app_payload.values()),
            "compile_seconds": round(compile_s, 3),
            "build_seconds": round(time.perf_counter() - started, 3),
        }
        return cls(
            sigs, kinds, dirs, tuple(header_of), tuple(headers), slots,
            {p: tuple(v) for p, v in app_always.items()},
            {p: frozenset(v) for p, v in app_payload.items()},
            {p: tuple(v) for p, v in app_slots.items()},
            {t: tuple(v) for t, v in header_rules.items()},
            stats, stream_depth,
        )

    def new_flow(self, tuple: FlowTuple, *, flow_id: int, ts: float) -> FlowDetector:
        return FlowDetector(self, tuple, flow_id, ts)


_PROTO_PREFIX = (("http.", AppProto.HTTP), ("file.data", AppProto.HTTP), ("urilen", AppProto.HTTP),
                 ("dns.", AppProto.DNS), ("tls.", AppProto.TLS), ("ja3", AppProto.TLS))


def _protos_of_buffer(name: str) -> tuple[AppProto, ...]:
    for prefix, proto in _PROTO_PREFIX:
        if name.startswith(prefix):
            return (proto,)
    return ()


def _protos_of(sig: Signature) -> tuple[AppProto, ...]:
    if sig.app_proto is not None and sig.app_proto in (AppProto.HTTP, AppProto.DNS, AppProto.TLS):
        return (sig.app_proto,)
    found: list[AppProto] = []
    for b in sig.buffers:
        for p in _protos_of_buffer(b.name):
            if p not in found:
                found.append(p)
    return tuple(found[:1])


