"""IP fragment reassembly: order, overlaps (first wins), IPv6, bounds."""

from __future__ import annotations

from services.ips.layers.decode import decode_ip
from services.ips.layers.defrag import Defragmenter
from services.ips.layers.pcapgen import fragment_ipv4, fragment_ipv6, ip_packet, tcp_segment, udp_datagram

SRC, DST = "10.0.0.1", "10.0.0.2"
PAYLOAD = bytes(range(256)) * 2


def frags(size=64, ident=9):
    ip = ip_packet(SRC, DST, 17, udp_datagram(SRC, DST, 5000, 53, PAYLOAD), ident=ident)
    return [decode_ip(f, ts=float(i)) for i, f in enumerate(fragment_ipv4(ip, size))]


def run(d, pkts):
    out = [d.process(p) for p in pkts]
    return [p for p in out if p is not None]


def test_in_order_and_reversed():
    for order in (lambda x: x, lambda x: list(reversed(x))):
        d = Defragmenter()
        [whole] = run(d, order(frags()))
        assert (whole.proto, whole.src_port, whole.dst_port, whole.payload) == ("udp", 5000, 53, PAYLOAD)
        assert not whole.fragment and whole.linktype == 101 and len(d) == 0


def test_overlap_first_wins():
    parts = frags(64)
    # a rogue fragment rewriting bytes 64..127 of the datagram arrives after the original
    rogue_ip = ip_packet(SRC, DST, 17, b"Z" * 64, ident=9, frag_offset=64, more_fragments=True)
    rogue = decode_ip(rogue_ip)
    d = Defragmenter()
    [whole] = run(d, [parts[0], parts[1], rogue, *parts[2:]])
    assert whole.payload == PAYLOAD and d.overlaps == 1


def test_non_fragments_pass_through_and_incomplete_held():
    d = Defragmenter()
    plain = decode_ip(ip_packet(SRC, DST, 17, udp_datagram(SRC, DST, 1, 2, b"x")))
    assert d.process(plain) is plain
    parts = frags()
    assert run(d, parts[:-1]) == [] and len(d) == 1


def test_timeout_and_tracker_limit():
    d = Defragmenter(timeout=5, max_trackers=2)
    for ident in (1, 2, 3):
        d.process(frags(ident=ident)[0])
    assert len(d) == 2 and d.dropped == 1
    late = frags(ident=4)[0]
    late.ts = 100.0
    d.process(late)
    assert len(d) == 1


def test_tiny_first_fragment_still_reassembles():
    # 8-byte fragments split the TCP header itself (the tiny-fragment evasion of RFC 1858)
    tcp_ip = ip_packet(SRC, DST, 6, tcp_segment(SRC, DST, 1000, 80, 1, 1, 0x18, b"GET /tiny HTTP/1.1\r\n"), ident=3)
    pkts = [decode_ip(f) for f in fragment_ipv4(tcp_ip, 8)]
    assert pkts[0] is not None and pkts[0].src_port == 0  # TCP header split: ports unknown yet
    d = Defragmenter()
    [whole] = run(d, pkts)
    assert (whole.dst_port, whole.payload) == (80, b"GET /tiny HTTP/1.1\r\n")


def test_ipv6_fragments():
    s6, d6 = "2001:db8::1", "2001:db8::2"
    udp = udp_datagram(s6, d6, 7, 53, PAYLOAD)
    pkts = [decode_ip(f) for f in fragment_ipv6(s6, d6, 17, udp, 200, ident=5)]
    assert all(p.fragment for p in pkts) and pkts[0].src_port == 7
    d = Defragmenter()
    [whole] = run(d, pkts[::-1])
    assert (whole.ip_version, whole.dst_port, whole.payload) == (6, 53, PAYLOAD)
