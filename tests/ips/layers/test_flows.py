"""Flow table: direction, lifecycle events, reassembled streams, timeouts, ids."""

from __future__ import annotations

from services.ips.layers.decode import TH_ACK, TH_PUSH, decode
from services.ips.layers.flows import (
    Established,
    FlowClosed,
    FlowStarted,
    FlowTable,
    FlowTimeouts,
    PacketSeen,
    StreamData,
    StreamGap,
)
from services.ips.layers.pcap import RawFrame, read_pcap, write_pcap
from services.ips.layers.pcapgen import Segment, icmp_echo, tcp_session, udp_exchange
from services.ips.model import Direction, FlowTuple

C2S, S2C = Direction.TO_SERVER, Direction.TO_CLIENT
CLIENT, SERVER = ("10.0.0.1", 40000), ("10.0.0.2", 80)
REQ = b"GET /index.html HTTP/1.1\r\nHost: example\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def run(frames, table=None, flush=True):
    table = FlowTable() if table is None else table
    events = []
    for i, (ts, raw) in enumerate(frames):
        pkt = decode(RawFrame(ts, 1, raw, i + 1))
        assert pkt is not None
        events += table.process(pkt)
    if flush:
        events += table.flush()
    return table, events


def streams(events):
    out = {C2S: b"", S2C: b""}
    for e in events:
        if isinstance(e, StreamData):
            out[e.direction] += e.data
    return out


def lifecycle(events):
    return [type(e).__name__ for e in events if not isinstance(e, (PacketSeen, StreamData))]


def test_tcp_session_events_and_tuple():
    frames = tcp_session(CLIENT, SERVER, [(C2S, REQ), (S2C, RESP)])
    _, ev = run(frames)
    assert lifecycle(ev) == ["FlowStarted", "Established", "FlowClosed"]
    assert streams(ev) == {C2S: REQ, S2C: RESP}
    flow = ev[0].flow
    assert flow.tuple == FlowTuple("tcp", "10.0.0.1", 40000, "10.0.0.2", 80)
    assert 0 < flow.flow_id < 2**63
    assert ev[-1].reason == "fin" and flow.state == "closed"
    assert flow.pkts_toserver == 6 and flow.pkts_toclient == 4  # SYN,ACK,data,ACK,FIN,ACK / SYNACK,...
    assert flow.bytes_toserver == sum(len(f) for i, (_, f) in enumerate(frames) if i in (0, 2, 3, 6, 7, 9))
    seen = [e for e in ev if isinstance(e, PacketSeen)]
    assert len(seen) == len(frames) - 1  # the final ACK after both FINs belongs to a closed flow
    # the established event comes before the handshake's last ACK is inspected
    est = next(i for i, e in enumerate(ev) if isinstance(e, Established))
    assert isinstance(ev[est + 1], PacketSeen) and ev[est + 1].packet.pcap_cnt == 3
    # the stream data carries the packet that released it
    first = next(e for e in ev if isinstance(e, StreamData))
    assert first.packet.pcap_cnt == 4 and first.ts == first.packet.ts


def test_stream_is_identical_under_reorder_retransmit_overlap_wrap_vlan_ipv6():
    variants = [
        dict(mss=7, reorder=True),
        dict(mss=5, retransmit=True),
        dict(mss=9, overlap=True),
        dict(mss=3, reorder=True, retransmit=True, isn_client=2**32 - 10, isn_server=2**32 - 1),
        dict(mss=11, vlan=42),
    ]
    for kw in variants:
        _, ev = run(tcp_session(CLIENT, SERVER, [(C2S, REQ), (S2C, RESP), (C2S, REQ)], **kw))
        assert streams(ev) == {C2S: REQ + REQ, S2C: RESP}, kw
        assert not any(isinstance(e, StreamGap) for e in ev)
    _, ev = run(tcp_session(("2001:db8::1", 5555), ("2001:db8::2", 443), [(C2S, b"v6 data")], mss=2, reorder=True))
    assert streams(ev)[C2S] == b"v6 data" and ev[0].flow.tuple.src_ip == "2001:db8::1"


def test_syn_ack_first_and_midstream_direction():
    frames = tcp_session(CLIENT, SERVER, [(C2S, REQ), (S2C, RESP)])
    _, ev = run(frames[1:])  # SYN lost
    assert ev[0].flow.tuple.src_port == 40000
    assert streams(ev) == {C2S: REQ, S2C: RESP}
    # capture starts with the server's data: the low port is the server
    mid = tcp_session(CLIENT, SERVER, [(S2C, RESP), (C2S, REQ)], handshake=False)
    _, ev = run(mid)
    assert ev[0].flow.tuple.src_port == 40000 and ev[0].flow.midstream
    assert lifecycle(ev)[:2] == ["FlowStarted", "Established"]
    assert streams(ev) == {C2S: REQ, S2C: RESP}
    _, ev = run(mid, FlowTable(midstream=False))
    assert ev == []


def test_rst_closes_and_flushes_held_data_with_gap():
    def lose_second_segment(segs: list[Segment]) -> list[Segment]:
        data = [s for s in segs if s.data]
        return [s for s in segs if s is not data[1]]

    frames = tcp_session(CLIENT, SERVER, [(C2S, b"AAAABBBBCCCC")], mss=4, mangle=lose_second_segment, close="rst")
    _, ev = run(frames)
    kinds = [(type(e).__name__, getattr(e, "data", getattr(e, "length", None))) for e in ev if isinstance(e, (StreamData, StreamGap, FlowClosed))]
    assert kinds == [("StreamData", b"AAAA"), ("StreamGap", 4), ("StreamData", b"CCCC"), ("FlowClosed", None)]
    assert ev[-1].reason == "rst"


def test_out_of_window_rst_is_ignored():
    frames = tcp_session(CLIENT, SERVER, [(C2S, REQ)], close=None)
    from services.ips.layers.pcapgen import frame, ip_packet, tcp_segment
    from services.ips.layers.decode import TH_RST

    bogus = tcp_segment(CLIENT[0], SERVER[0], CLIENT[1], SERVER[1], 500_000_000, 0, TH_RST)
    frames.append((frames[-1][0] + 1, frame(ip_packet(CLIENT[0], SERVER[0], 6, bogus))))
    _, ev = run(frames, flush=False)
    assert not any(isinstance(e, FlowClosed) for e in ev)


def test_udp_flow_established_on_reply_and_timeout():
    q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01"
    frames = udp_exchange(("10.0.0.9", 5353), ("10.0.0.53", 53), [(C2S, q), (S2C, q)])
    table, ev = run(frames, flush=False)
    assert lifecycle(ev) == ["FlowStarted", "Established"]
    assert [e.direction for e in ev if isinstance(e, PacketSeen)] == [C2S, S2C]
    assert table.expire(frames[-1][0] + 10) == []
    closed = table.expire(frames[-1][0] + 301)
    assert [type(e).__name__ for e in closed] == ["FlowClosed"] and closed[0].reason == "timeout"
    assert len(table) == 0


def test_reply_first_udp_uses_port_heuristic():
    frames = udp_exchange(("10.0.0.9", 40001), ("10.0.0.53", 53), [(S2C, b"answer")])
    _, ev = run(frames)
    assert ev[0].flow.tuple.dst_port == 53
    assert [e.direction for e in ev if isinstance(e, PacketSeen)] == [S2C]


def test_idle_tcp_flows_expire_as_time_advances():
    t = FlowTable(FlowTimeouts(tcp_new=5, tcp_established=20))
    a = tcp_session(CLIENT, SERVER, [(C2S, b"x")], close=None, start_ts=0)
    b = tcp_session(("10.0.0.3", 1), SERVER, [(C2S, b"y")], close=None, start_ts=30)
    _, ev = run(a + b, t, flush=False)
    closed = [e for e in ev if isinstance(e, FlowClosed)]
    assert len(closed) == 1 and closed[0].reason == "timeout" and closed[0].flow.tuple.src_port == 40000
    assert len(t) == 1


def test_port_reuse_after_close_starts_new_flow():
    a = tcp_session(CLIENT, SERVER, [(C2S, b"one")], start_ts=0)
    b = tcp_session(CLIENT, SERVER, [(C2S, b"two")], start_ts=2, isn_client=77)
    _, ev = run(a + b)
    starts = [e.flow for e in ev if isinstance(e, FlowStarted)]
    assert len(starts) == 2 and starts[0].flow_id != starts[1].flow_id
    assert [e.data for e in ev if isinstance(e, StreamData)] == [b"one", b"two"]


def test_flow_ids_are_stable_across_runs(tmp_path):
    frames = tcp_session(CLIENT, SERVER, [(C2S, REQ)]) + icmp_echo("10.0.0.1", "10.0.0.2", start_ts=1_700_000_001)
    path = write_pcap(tmp_path / "a.pcap", frames)

    def ids():
        t = FlowTable()
        out = []
        for f in read_pcap(path):
            out += [e.flow.flow_id for e in t.process(decode(f)) if isinstance(e, FlowStarted)]
        return out

    assert ids() == ids() and len(set(ids())) == 2


def test_icmp_echo_is_one_flow():
    _, ev = run(icmp_echo("10.0.0.1", "10.0.0.2"))
    assert lifecycle(ev) == ["FlowStarted", "Established", "FlowClosed"]
    assert ev[0].flow.tuple.proto == "icmp"


def test_max_flows_evicts_oldest():
    t = FlowTable(max_flows=3)
    frames = []
    for i in range(5):
        frames += udp_exchange((f"10.0.1.{i}", 1000 + i), ("10.0.0.53", 53), [(C2S, b"x")], start_ts=i)
    run(frames, t, flush=False)
    assert len(t) == 3 and t.stats["evicted"] == 2


def test_many_packets_flow_memory_bounded():
    t = FlowTable()
    ts = 0.0
    seq = 1
    from services.ips.layers.pcapgen import frame, ip_packet, tcp_segment

    events = 0
    for _ in range(3000):
        seg = tcp_segment(CLIENT[0], SERVER[0], CLIENT[1], SERVER[1], seq, 1, TH_PUSH | TH_ACK, b"q" * 1000)
        seq += 1000
        ts += 0.001
        events += len(t.process(decode(RawFrame(ts, 1, frame(ip_packet(CLIENT[0], SERVER[0], 6, seg)), 1))))
    flow = next(iter(t))
    assert flow.streams[0].buffered == 0 and flow.streams[0].offset == 3_000_000
    assert events == 1 + 1 + 3000 * 2  # started, established, then PacketSeen + StreamData each
