"""pcap I/O, the packet generator and the frame decoder (cross-checked with dpkt)."""

from __future__ import annotations

import dpkt
import pytest

from services.ips.layers.decode import TH_ACK, TH_PUSH, TH_SYN, decode, decode_ip
from services.ips.layers.pcap import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_RAW,
    PcapError,
    RawFrame,
    read_pcap,
    write_pcap,
)
from services.ips.layers.pcapgen import (
    fragment_ipv4,
    frame,
    icmp_echo,
    ip_packet,
    tcp_segment,
    tcp_session,
    udp_datagram,
    udp_exchange,
)
from services.ips.model import Direction

C2S, S2C = Direction.TO_SERVER, Direction.TO_CLIENT
CLIENT, SERVER = ("10.0.0.1", 40000), ("10.0.0.2", 80)


@pytest.mark.parametrize("pcapng", [False, True])
@pytest.mark.parametrize("linktype", [LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL])
def test_roundtrip_pcap_and_pcapng(tmp_path, pcapng, linktype):
    frames = tcp_session(CLIENT, SERVER, [(C2S, b"hello"), (S2C, b"world")], linktype=linktype)
    path = write_pcap(tmp_path / "x.pcap", frames, linktype=linktype, pcapng=pcapng)
    got = list(read_pcap(path))
    assert [f.pcap_cnt for f in got] == list(range(1, len(frames) + 1))
    assert [f.data for f in got] == [f for _, f in frames]
    assert all(f.linktype == linktype for f in got)
    assert got[1].ts == pytest.approx(frames[1][0], abs=1e-6)
    pkts = [decode(f) for f in got]
    assert [p.payload for p in pkts if p.payload] == [b"hello", b"world"]
    assert pkts[0].tcp_flags == TH_SYN and pkts[0].src_port == 40000


def test_not_a_pcap(tmp_path):
    p = tmp_path / "bad.pcap"
    p.write_bytes(b"this is not a capture file at all")
    with pytest.raises(PcapError, match="bad.pcap"):
        list(read_pcap(p))


def test_truncated_last_record_is_read_as_far_as_it_goes(tmp_path):
    frames = udp_exchange(("10.0.0.1", 5000), ("10.0.0.2", 53), [(C2S, b"q" * 50)] * 3)
    path = write_pcap(tmp_path / "t.pcap", frames)
    path.write_bytes(path.read_bytes()[:-20])
    got = list(read_pcap(path))
    assert len(got) == 3 and len(got[2].data) == len(frames[2][1]) - 20
    assert decode(got[2]).payload == b"q" * 30  # decoded up to the cut, like a snaplen-cut packet
    path.write_bytes(path.read_bytes()[:-(len(got[2].data) + 8)])  # cut inside a record header
    assert len(list(read_pcap(path))) == 2


def test_decode_matches_dpkt_ipv4_vlan():
    frames = tcp_session(CLIENT, SERVER, [(C2S, b"GET / HTTP/1.1\r\n\r\n")], vlan=[10, 20], ttl=33)
    for ts, raw in frames:
        p = decode(RawFrame(ts, 1, raw, 1))
        eth = dpkt.ethernet.Ethernet(raw)
        ip = eth.data
        assert [t.id for t in eth.vlan_tags] == [10, 20] == list(p.vlan)
        assert (p.src_port, p.dst_port, p.seq, p.ack, p.tcp_flags) == (
            ip.data.sport, ip.data.dport, ip.data.seq, ip.data.ack, ip.data.flags
        )
        assert p.payload == bytes(ip.data.data) and p.ttl == 33 and p.proto == "tcp" and p.ip_proto == 6
        # checksums the generator wrote are what dpkt computes
        ip2 = dpkt.ip.IP(bytes(ip))
        ip2.sum = 0
        ip2.data.sum = 0
        assert bytes(ip2)[10:12] == bytes(ip)[10:12]


def test_decode_ipv6_with_extension_headers():
    tcp = tcp_segment("2001:db8::1", "2001:db8::2", 1234, 443, 7, 9, TH_PUSH | TH_ACK, b"data")
    # hop-by-hop (padding) then destination options before TCP
    hbh = bytes([60, 0]) + b"\x01\x04\0\0\0\0"
    dst_opts = bytes([6, 0]) + b"\x01\x04\0\0\0\0"
    ip = ip_packet("2001:db8::1", "2001:db8::2", 0, hbh + dst_opts + tcp)
    p = decode(RawFrame(1.0, 1, frame(ip), 5))
    assert (p.src_ip, p.dst_ip, p.proto, p.src_port, p.dst_port, p.payload) == (
        "2001:db8::1", "2001:db8::2", "tcp", 1234, 443, b"data"
    )
    assert p.ip_version == 6 and p.pcap_cnt == 5


def test_decode_udp_icmp_and_icmpv6():
    u = decode(RawFrame(0, 101, ip_packet("1.1.1.1", "2.2.2.2", 17, udp_datagram("1.1.1.1", "2.2.2.2", 5353, 53, b"q")), 1))
    assert (u.proto, u.src_port, u.dst_port, u.payload, u.tcp_flags) == ("udp", 5353, 53, b"q", None)
    req, rep = icmp_echo("10.1.1.1", "10.1.1.2", b"ping!", ident=7, seq=3)
    p = decode(RawFrame(req[0], 1, req[1], 1))
    assert (p.proto, p.icmp_type, p.icmp_code, p.icmp_id, p.icmp_seq, p.payload) == ("icmp", 8, 0, 7, 3, b"ping!")
    assert decode(RawFrame(rep[0], 1, rep[1], 2)).icmp_type == 0
    req6, _ = icmp_echo("fe80::1", "fe80::2")
    p6 = decode(RawFrame(req6[0], 1, req6[1], 1))
    assert (p6.proto, p6.ip_proto, p6.icmp_type) == ("icmp", 58, 128)


def test_decode_fragments_are_flagged():
    ip = ip_packet("10.0.0.1", "10.0.0.2", 17, udp_datagram("10.0.0.1", "10.0.0.2", 1, 2, b"x" * 100), ident=77)
    frags = fragment_ipv4(ip, 40)
    pkts = [decode_ip(f) for f in frags]
    assert len(pkts) == 3 and all(p.fragment for p in pkts)
    assert pkts[0].src_port == 1 and pkts[1].src_port == 0
    assert [p.frag_offset for p in pkts] == [0, 40, 80]
    assert pkts[0].ip_id == 77


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00" * 10, b"\xff" * 14, bytes(12) + b"\x08\x06" + bytes(28), bytes(12) + b"\x08\x00" + b"\x45"],
)
def test_decode_junk_returns_none(raw):
    assert decode(RawFrame(0, 1, raw, 1)) is None


def test_decode_unknown_linktype():
    assert decode(RawFrame(0, 9999, b"\x45" + bytes(40), 1)) is None


def test_decode_linux_sll_and_loopback():
    ip = ip_packet("10.0.0.1", "10.0.0.2", 17, udp_datagram("10.0.0.1", "10.0.0.2", 1, 2, b"z"))
    assert decode(RawFrame(0, 113, frame(ip, linktype=113), 1)).payload == b"z"
    assert decode(RawFrame(0, 0, (2).to_bytes(4, "little") + ip, 1)).payload == b"z"
