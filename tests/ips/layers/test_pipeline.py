"""All layers together, as pcap replay drives them: file -> decode -> defrag -> flows -> app parsers."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from services.ips.layers.app.detect import detect_app_proto
from services.ips.layers.app.dns import DnsParser
from services.ips.layers.app.http import HttpParser, RequestHeaders, ResponseComplete
from services.ips.layers.app.tls import TlsParser
from services.ips.layers.decode import decode
from services.ips.layers.defrag import Defragmenter
from services.ips.layers.flows import FlowClosed, FlowStarted, FlowTable, PacketSeen, StreamData
from services.ips.layers.pcap import RawFrame, read_pcap, write_pcap
from services.ips.layers.pcapgen import Segment, tcp_session, udp_exchange
from services.ips.model import AppProto, Direction
from tests.ips.layers.app.test_dns import query
from tests.ips.layers.app.test_tls import EXPECTED_JA3, client_hello, record

C2S, S2C = Direction.TO_SERVER, Direction.TO_CLIENT

REQS = [
    b"GET /login.php?user=admin%27-- HTTP/1.1\r\nHost: Shop.Example\r\nUser-Agent: sqlmap/1.7\r\n\r\n",
    b"POST /upload HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nEVIL\r\n0\r\n\r\n",
]
RESPS = [
    b"HTTP/1.1 302 Found\r\nLocation: /home\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nstored!",
]
EXCHANGES = [(C2S, REQS[0]), (S2C, RESPS[0]), (C2S, REQS[1]), (S2C, RESPS[1])]


def replay(path):
    """A minimal driver: what services/ips/replay.py does, minus detection."""
    table = FlowTable()
    defrag = Defragmenter()
    apps: dict[int, object] = {}
    probe: dict[tuple[int, Direction], bytes] = {}
    results: dict[int, list] = {}

    def app_feed(ev, d, data, transport):
        fid = ev.flow.flow_id
        parser = apps.get(fid)
        if parser is None:
            buf = probe.get((fid, d), b"") + data
            proto = detect_app_proto(d, buf, ev.flow.tuple.dst_port, transport)
            if proto is None:
                probe[(fid, d)] = buf
                return
            parser = {AppProto.HTTP: HttpParser, AppProto.TLS: TlsParser}.get(proto)
            parser = parser() if parser else DnsParser(transport) if proto is AppProto.DNS else False
            apps[fid] = parser
            data = buf
        if parser:
            results.setdefault(fid, []).extend(parser.feed(d, data))

    events = []
    for frame in read_pcap(path):
        pkt = decode(frame)
        if pkt is None:
            continue
        pkt = defrag.process(pkt)
        if pkt is None:
            continue
        events += table.process(pkt)
    events += table.flush()
    for ev in events:
        if isinstance(ev, StreamData):
            app_feed(ev, ev.direction, ev.data, "tcp")
        elif isinstance(ev, PacketSeen) and ev.flow.tuple.proto == "udp":
            app_feed(ev, ev.direction, ev.packet.payload, "udp")
        elif isinstance(ev, FlowClosed) and isinstance(apps.get(ev.flow.flow_id), HttpParser):
            results.setdefault(ev.flow.flow_id, []).extend(apps[ev.flow.flow_id].finish())
    return events, apps, results


def write_mixed(tmp_path, **tcp_kw):
    frames = tcp_session(("10.0.0.5", 50000), ("192.0.2.10", 8080), EXCHANGES, **tcp_kw)
    hello = [(C2S, record(22, client_hello()))]
    frames += tcp_session(("10.0.0.5", 50001), ("192.0.2.20", 443), hello, mss=50, start_ts=1_700_000_001)
    dns_q = [(C2S, query(0xBEEF, "evil.example") + b"\0" * 100)]
    frames += udp_exchange(("10.0.0.5", 33333), ("192.0.2.53", 53), dns_q, fragment_size=48, start_ts=1_700_000_002)
    frames.sort(key=lambda f: f[0])
    return write_pcap(tmp_path / "mixed.pcap", frames)


def test_pcap_to_app_layer(tmp_path):
    events, apps, results = replay(write_mixed(tmp_path, mss=17, reorder=True, retransmit=True, vlan=7))
    flows = {e.flow.tuple.dst_port: e.flow for e in events if isinstance(e, FlowStarted)}
    assert set(flows) == {8080, 443, 53}
    http = results[flows[8080].flow_id]
    heads = [e.tx for e in http if isinstance(e, RequestHeaders)]
    assert [t.buffer("http.uri") for t in heads] == [b"/login.php?user=admin'--", b"/upload"]
    assert heads[0].buffer("http.host") == b"shop.example" and heads[1].request_body == b"EVIL"
    assert [e.tx.status for e in http if isinstance(e, ResponseComplete)] == [302, 200]
    tls = apps[flows[443].flow_id]
    assert tls.session.sni == b"www.example.org" and tls.session.ja3_string == EXPECTED_JA3
    [dns_tx] = results[flows[53].flow_id]
    assert dns_tx.buffer("dns.query") == b"evil.example"  # the datagram was IP-fragmented


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 64))
def test_any_segment_order_gives_same_transactions(rnd, mss):
    def shuffle_within_direction(segs: list[Segment]) -> list[Segment]:
        # Shuffle the segments of each message (a run of data segments one way); a response still
        # follows its request, as on a real network where the server answers what it received.
        out: list[Segment] = []
        run: list[Segment] = []
        for s in [*segs, None]:
            if s is not None and s.data and (not run or run[0].direction == s.direction):
                run.append(s)
                continue
            rnd.shuffle(run)
            out += run
            run = [s] if s is not None and s.data else []
            if s is not None and not s.data:
                out.append(s)
        return out

    table = FlowTable()
    parser = HttpParser()
    got = []
    frames = tcp_session(("10.0.0.1", 1234), ("10.0.0.2", 80), EXCHANGES, mss=mss, mangle=shuffle_within_direction)
    for i, (ts, raw) in enumerate(frames):
        for ev in table.process(decode(RawFrame(ts, 1, raw, i + 1))):
            if isinstance(ev, StreamData):
                got += parser.feed(ev.direction, ev.data)
    got += parser.finish()
    assert [e.tx.index for e in got if isinstance(e, RequestHeaders)] == [0, 1]
    assert [e.tx.index for e in got if isinstance(e, ResponseComplete)] == [0, 1]
    assert [e.tx.buffer("http.uri") for e in got if isinstance(e, RequestHeaders)] == [b"/login.php?user=admin'--", b"/upload"]
    assert not parser.failed
    assert [e.tx.response_body for e in got if isinstance(e, ResponseComplete)] == [b"", b"stored!"]


def test_dns_over_tcp_through_flows(tmp_path):
    q = query(1, "tcp.example")
    frames = tcp_session(("10.0.0.1", 40000), ("10.0.0.53", 53), [(C2S, struct.pack("!H", len(q)) + q)], mss=5)
    _, apps, results = replay(write_pcap(tmp_path / "d.pcap", frames))
    [txs] = results.values()
    assert [t.buffer("dns.query") for t in txs] == [b"tcp.example"]
