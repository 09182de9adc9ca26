"""Offline inspection: a pcap or pcapng file through the same layers and engine as the proxy.

    secchain ips replay capture.pcap --rules local.rules --eve -            # EVE lines on stdout
    secchain ips replay capture.pcap --rulesets core --eve eve.json \\
        --kafka 127.0.0.1:9092 --tenant demo --vpc vpc-demo                # and into the audit trail

Frames are decoded, grouped into flows and reassembled by ``services.ips.layers`` (sans-IO), and
every flow event drives that flow's ``FlowDetector`` exactly as the inline proxy does: each packet
goes to ``on_packet``, each in-order reassembled chunk to ``on_stream``, the end of the flow to
``on_close``. Like ``suricata -r``, replay is an IDS by default (``--mode detect``): drop rules
alert and traffic "continues". ``--mode prevent`` models the inline verdicts: once a drop or reject
rule matches, the flow is no longer inspected, as the proxy would have closed it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from services.ips.config import DEFAULT_RULES_ROOT, BuiltEngine, build_engine, build_for_packs
from services.ips.model import Direction
from services.ips.output.alerts import AlertContext
from services.ips.output.eve import PKT_SRC_FLOW_END, PKT_SRC_WIRE
from services.ips.output.sink import AlertOutput

log = logging.getLogger("secchain.ips")


@dataclass(slots=True)
class _State:
    view: Any  # the layers' Flow: it has every field of the EVE FlowView
    detector: Any
    seq: int = 0


@dataclass(slots=True)
class ReplayStats:
    frames: int = 0
    packets: int = 0            # decoded
    undecoded: int = 0
    flows: int = 0
    alerts: int = 0
    payload_bytes: int = 0      # packet payload bytes (the throughput figure's numerator)
    engine_seconds: float = 0.0
    seconds: float = 0.0
    verdicts: dict[str, int] = field(default_factory=dict)

    @property
    def mb_per_s(self) -> float:
        return self.payload_bytes / self.seconds / 1e6 if self.seconds else 0.0


def _verdict(det: Any) -> str | None:
    v = det.verdict
    if v is None:
        return None
    return str(getattr(v, "name", None) or getattr(v, "value", None) or v).lower()


class Replayer:
    """Feeds one capture's flow events to one engine; ``output`` receives the hits."""

    def __init__(self, engine: Any, output: AlertOutput | None, *, prevent: bool = False,
                 flow_table: Any = None) -> None:
        from services.ips.layers.flows import FlowTable

        self.engine = engine
        self.output = output
        self.prevent = prevent
        from services.ips.layers.defrag import Defragmenter

        self.table = flow_table if flow_table is not None else FlowTable()
        self.defrag = Defragmenter()
        self.states: dict[int, _State | None] = {}
        self.stats = ReplayStats()
        self.hits: list[tuple[Any, Any]] = []   # kept when ``collect`` is on (tests, bench)
        self.collect = False

    def run(self, frames: Iterable[Any]) -> ReplayStats:
        from services.ips.layers.decode import decode

        started = time.perf_counter()
        stats = self.stats
        defrag = self.defrag
        for frame in frames:
            stats.frames += 1
            packet = decode(frame)
            if packet is None:
                stats.undecoded += 1
                continue
            if packet.fragment:  # IP fragments are inspected once whole, as Suricata's defrag does
                packet = defrag.process(packet)
                if packet is None:
                    continue
            stats.packets += 1
            self._events(self.table.process(packet), frame.pcap_cnt)
        self._events(self.table.flush(), None)
        stats.seconds = time.perf_counter() - started
        return stats

    def _emit(self, st: _State, hits: list[Any], pcap_cnt: int | None, pkt_src: str = PKT_SRC_WIRE) -> None:
        self.stats.alerts += len(hits)
        if self.collect:
            self.hits.extend((h, st.view) for h in hits)
        if self.output is not None:
            for hit in hits:
                pkt = getattr(hit, "packet", None)
                cnt = getattr(pkt, "pcap_cnt", None) or pcap_cnt
                st.seq = self.output.emit((hit,), st.view, seq=st.seq, pcap_cnt=cnt, pkt_src=pkt_src)

    def _after(self, st: _State, flow_id: int) -> None:
        verdict = _verdict(st.detector)
        if verdict is None:
            return
        if verdict == "pass" or (self.prevent and verdict in ("drop", "reject")):
            self.stats.verdicts[verdict] = self.stats.verdicts.get(verdict, 0) + 1
            self.states[flow_id] = None  # no more inspection of this flow

    def _events(self, events: Iterable[Any], pcap_cnt: int | None) -> None:
        from services.ips.layers.flows import Established, FlowClosed, FlowStarted, PacketSeen, StreamData, StreamGap

        stats = self.stats
        for ev in events:
            flow = ev.flow
            fid = flow.flow_id
            kind = type(ev)
            if kind is FlowStarted:
                stats.flows += 1
                det = self.engine.new_flow(flow.tuple, flow_id=fid, ts=flow.start_ts)
                self.states[fid] = _State(flow, det)
                continue
            st = self.states.get(fid)
            if st is None:
                if kind is FlowClosed:
                    self.states.pop(fid, None)
                continue
            t0 = time.perf_counter()
            if kind is PacketSeen:
                pkt = ev.packet
                stats.payload_bytes += len(pkt.payload)
                hits = st.detector.on_packet(ev.direction, pkt.payload, pkt.ts, tcp_flags=pkt.tcp_flags,
                                             packet=pkt)
            elif kind is StreamData:
                hits = st.detector.on_stream(ev.direction, ev.data, ev.ts)
            elif kind is Established:
                hits = st.detector.on_established(ev.ts)
            elif kind is StreamGap:
                st.detector.on_gap(ev.direction, ev.length, ev.ts)
                hits = None
            elif kind is FlowClosed:
                hits = st.detector.on_close(ev.ts)
                stats.engine_seconds += time.perf_counter() - t0
                if hits:
                    self._emit(st, hits, pcap_cnt, PKT_SRC_FLOW_END)
                del self.states[fid]
                continue
            else:
                continue
            stats.engine_seconds += time.perf_counter() - t0
            if hits:
                self._emit(st, hits, pcap_cnt)
            self._after(st, fid)


def load_engine(args: argparse.Namespace) -> BuiltEngine:
    from services.ips.server import expand_rule_paths

    variables = dict(v.split("=", 1) for v in (args.var or []))
    if args.rules:
        return build_engine(expand_rule_paths(args.rules), label="files", variables=variables,
                            classification=args.classification, cache_dir=args.cache_dir)
    return build_for_packs(args.rules_root, tuple(args.rulesets), variables, args.cache_dir)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="secchain ips replay", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pcap", type=Path, help="pcap or pcapng file")
    p.add_argument("--rules", type=Path, action="append", help="rule file or folder of *.rules (repeatable)")
    p.add_argument("--classification", type=Path, default=None, help="classification.config for --rules")
    p.add_argument("--rulesets", nargs="+", default=["core"], help="IPS packs (when no --rules)")
    p.add_argument("--rules-root", type=Path, default=DEFAULT_RULES_ROOT)
    p.add_argument("--var", action="append", metavar="NAME=VALUE",
                   help="rule variable, e.g. HOME_NET=[10.0.0.0/8] (repeatable)")
    p.add_argument("--mode", choices=("detect", "prevent"), default="detect")
    p.add_argument("--eve", default="-", help="EVE output file, '-' for stdout (default), '' for none")
    p.add_argument("--kafka", default=None, help="also send common alerts to this Kafka bootstrap")
    p.add_argument("--tenant", default=None, help="tenant.id of the alerts (required with --kafka)")
    p.add_argument("--vpc", default=None)
    p.add_argument("--service", default="replay", help="service.name of the alerts")
    p.add_argument("--observer", default="ips-replay")
    p.add_argument("--spool-dir", type=Path, default=Path("var/spool/ips-replay"))
    p.add_argument("--cache-dir", type=Path, default=Path("var/cache/matching"))
    p.add_argument("--log-level", default="WARNING")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    if args.kafka and not args.tenant:
        print("secchain ips replay: --kafka needs --tenant", file=sys.stderr)
        return 2
    from services.ips.layers.pcap import read_pcap

    if not args.pcap.is_file():
        print(f"secchain ips replay: {args.pcap}: no such file", file=sys.stderr)
        return 2
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    built = load_engine(args)
    print(f"rules: {built.label}: {built.loaded} signatures, {built.disabled} disabled, {len(built.errors)} errors "
          f"({built.build_seconds:.2f} s)", file=sys.stderr)
    eve: TextIO | None = None
    if args.eve == "-":
        eve = sys.stdout
    elif args.eve:
        eve = open(args.eve, "a", buffering=1 << 16)
    producer = None
    if args.kafka:
        from shared.bus import AlertProducer

        producer = AlertProducer(args.kafka, spool_dir=args.spool_dir, client_id=args.observer)
    ctx = AlertContext(tenant_id=args.tenant or "default", vpc_id=args.vpc, service_name=args.service,
                       observer=args.observer, prevent=args.mode == "prevent", rulesets=built.rulesets,
                       default_ruleset=built.label)
    try:
        stats = Replayer(built.engine, AlertOutput(ctx, eve=eve, sink=producer),
                         prevent=args.mode == "prevent").run(read_pcap(args.pcap))
    finally:
        if eve is not None and eve is not sys.stdout:
            eve.close()
        elif eve is sys.stdout:
            sys.stdout.flush()
        if producer is not None:
            producer.close(30.0)
    print(f"replay: {stats.frames} frames, {stats.packets} decoded, {stats.flows} flows, {stats.alerts} alerts, "
          f"{stats.payload_bytes / 1e6:.2f} MB payload in {stats.seconds:.2f} s ({stats.mb_per_s:.2f} MB/s)",
          file=sys.stderr)
    return 0
