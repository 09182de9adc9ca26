"""Frame decoding: link layer -> IPv4/IPv6 -> TCP/UDP/ICMP, into one flat :class:`Packet`.

``decode(RawFrame(ts, 1, eth_bytes, 7))`` -> ``Packet(src_ip="10.0.0.1", dst_ip="10.0.0.2",
proto="tcp", src_port=40000, dst_port=80, tcp_flags=0x18, payload=b"GET / ...", ...)``;
``None`` for frames that carry nothing an IPS inspects (ARP, LLDP, truncated headers).

Link types: Ethernet with any number of 802.1Q / 802.1ad tags (QinQ), Linux cooked capture v1/v2
(``tcpdump -i any``), raw IP (101, and the BSD values 12/14), BSD loopback (0), IPv4/IPv6 (228/229).
IPv6 extension headers (hop-by-hop, routing, destination options, fragment) are walked to the
transport header as Suricata's decoder does. IPv4 and IPv6 fragments are decoded but flagged
(``fragment``); :class:`services.ips.layers.defrag.Defragmenter` puts them back together.

Header fields are read with ``struct.unpack_from`` on the frame rather than through dpkt's layer
objects: dpkt builds one object per layer and per option, which costs several times more per
packet, and the replay benchmark decodes every packet of a capture against the full ET ruleset.
The tests cross-check this decoder with dpkt on the same frames.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from services.ips.layers.pcap import RawFrame

__all__ = [
    "Packet",
    "decode",
    "decode_ip",
    "TH_FIN",
    "TH_SYN",
    "TH_RST",
    "TH_PUSH",
    "TH_ACK",
    "TH_URG",
    "TH_ECE",
    "TH_CWR",
]

TH_FIN, TH_SYN, TH_RST, TH_PUSH, TH_ACK, TH_URG, TH_ECE, TH_CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80

_ETH_IPV4, _ETH_IPV6, _ETH_VLAN, _ETH_QINQ, _ETH_QINQ_OLD = 0x0800, 0x86DD, 0x8100, 0x88A8, 0x9100
_IPV6_EXT = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options
_TRANSPORT = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp"}

_ntoa = socket.inet_ntoa
_ntop = socket.inet_ntop
_AF6 = socket.AF_INET6
_u16 = struct.Struct("!H").unpack_from
_ip4 = struct.Struct("!BBHHHBBH4s4s").unpack_from
_tcp = struct.Struct("!HHIIBBH").unpack_from
_udp = struct.Struct("!HH").unpack_from
_icmp_echo = _udp


@dataclass(slots=True, eq=False)
class Packet:
    """One decoded packet. ``proto`` uses :class:`FlowTuple`'s vocabulary (tcp/udp/icmp/ip),
    ``ip_proto`` the IANA number (6, 17, 1, 58, ...). Ports are 0 without a transport header."""

    ts: float
    src_ip: str
    dst_ip: str
    proto: str
    src_port: int
    dst_port: int
    tcp_flags: int | None
    seq: int
    ack: int
    payload: bytes
    ttl: int
    raw: bytes
    linktype: int
    pcap_cnt: int
    icmp_type: int | None = None
    icmp_code: int | None = None
    ip_proto: int = 0
    ip_version: int = 4
    ip_id: int = 0
    ip_flags: int = 0  # IPv4: 0x4 = reserved, 0x2 = DF, 0x1 = MF
    frag_offset: int = 0  # in bytes
    fragment: bool = False
    window: int = 0
    tcp_options: bytes = b""
    icmp_id: int | None = None
    icmp_seq: int | None = None
    vlan: tuple[int, ...] = ()
    l3_off: int = 0  # offsets into ``raw``: IP header, transport header, end of the IP packet
    l4_off: int = 0
    l3_end: int = 0

    @property
    def ip_header(self) -> bytes:
        """The IP header with options / IPv6 extension headers."""
        return self.raw[self.l3_off : self.l4_off]

    @property
    def ip_payload(self) -> bytes:
        """Everything after the IP header: transport header and payload (or a fragment's data)."""
        return self.raw[self.l4_off : self.l3_end]

    @property
    def payload_len(self) -> int:
        return len(self.payload)

    def has_flags(self, flags: int) -> bool:
        return self.tcp_flags is not None and self.tcp_flags & flags == flags


def decode(frame: RawFrame) -> Packet | None:
    """Decode a captured frame (see the module docstring); None if there is no IP packet in it."""
    data = frame.data
    lt = frame.linktype
    vlan: tuple[int, ...] = ()
    try:
        if lt == 1:
            if len(data) < 14:
                return None
            etype = _u16(data, 12)[0]
            off = 14
            while etype in (_ETH_VLAN, _ETH_QINQ, _ETH_QINQ_OLD):
                vlan = (*vlan, _u16(data, off)[0] & 0x0FFF)
                etype = _u16(data, off + 2)[0]
                off += 4
        elif lt in (101, 12, 14, 228, 229):
            off = 0
            etype = _ETH_IPV6 if data[:1] and data[0] >> 4 == 6 else _ETH_IPV4
        elif lt == 113:
            etype = _u16(data, 14)[0]
            off = 16
        elif lt == 276:
            etype = _u16(data, 0)[0]
            off = 20
        elif lt == 0:
            family = int.from_bytes(data[:4], "little") if data[:1] != b"\x00" else int.from_bytes(data[:4], "big")
            etype = _ETH_IPV4 if family == 2 else _ETH_IPV6 if family in (10, 24, 28, 30) else 0
            off = 4
        else:
            return None
    except (struct.error, IndexError):
        return None
    if etype not in (_ETH_IPV4, _ETH_IPV6):
        return None
    return decode_ip(data, off, frame.ts, lt, frame.pcap_cnt, vlan)


def decode_ip(
    data: bytes, off: int = 0, ts: float = 0.0, linktype: int = 101, pcap_cnt: int = 0, vlan: tuple[int, ...] = ()
) -> Packet | None:
    """Decode the IP packet starting at ``data[off:]`` (raw IP when ``off`` is 0)."""
    try:
        version = data[off] >> 4
        if version == 4:
            vihl, _tos, total, ident, frag, ttl, proto, _csum, src, dst = _ip4(data, off)
            ihl = (vihl & 0x0F) * 4
            if ihl < 20 or total < ihl:
                return None
            end = off + total
            if end > len(data):
                end = len(data)  # snaplen-truncated capture: decode what is there
            l4 = off + ihl
            flags = frag >> 13
            frag_off = (frag & 0x1FFF) * 8
            pkt = Packet(
                ts, _ntoa(src), _ntoa(dst), _TRANSPORT.get(proto, "ip"), 0, 0, None, 0, 0, b"", ttl, data,
                linktype, pcap_cnt, None, None, proto, 4, ident, flags, frag_off, bool(flags & 1 or frag_off),
                0, b"", None, None, vlan, off, l4, end,
            )
            if proto == 58:
                pkt.proto = "ip"  # ICMPv6 inside IPv4 is not ICMP
            if frag_off:
                pkt.payload = data[l4:end]
                return pkt  # no transport header in a non-first fragment
        elif version == 6:
            plen = _u16(data, off + 4)[0]
            nxt = data[off + 6]
            hlim = data[off + 7]
            src = _ntop(_AF6, data[off + 8 : off + 24])
            dst = _ntop(_AF6, data[off + 24 : off + 40])
            l4 = off + 40
            end = min(off + 40 + plen, len(data))
            fragment = False
            frag_off = 0
            ident = 0
            more = False
            while nxt in _IPV6_EXT or nxt == 44:
                if nxt == 44:
                    fo = _u16(data, l4 + 2)[0]
                    frag_off = fo & 0xFFF8
                    more = bool(fo & 1)
                    ident = int.from_bytes(data[l4 + 4 : l4 + 8], "big")
                    fragment = True
                    nxt = data[l4]
                    l4 += 8
                    if frag_off:
                        break
                    continue
                nxt, hlen = data[l4], (data[l4 + 1] + 1) * 8
                l4 += hlen
            if l4 > end:
                return None
            pkt = Packet(
                ts, src, dst, _TRANSPORT.get(nxt, "ip"), 0, 0, None, 0, 0, b"", hlim, data, linktype, pcap_cnt,
                None, None, nxt, 6, ident, 1 if more else 0, frag_off, fragment, 0, b"", None, None, vlan,
                off, l4, end,
            )
            if nxt == 1:
                pkt.proto = "ip"  # ICMPv4 inside IPv6 is not ICMP
            if frag_off:
                pkt.payload = data[l4:end]
                return pkt
        else:
            return None
    except (struct.error, IndexError, ValueError):
        return None
    out = _transport(pkt, data, l4, end)
    if out is None and pkt.fragment:
        # A first fragment too short for its transport header is still needed by the defragmenter.
        pkt.payload = data[l4:end]
        return pkt
    return out


def _transport(pkt: Packet, data: bytes, l4: int, end: int) -> Packet | None:
    proto = pkt.ip_proto
    try:
        if proto == 6:
            sport, dport, seq, ack, doff, flags, win = _tcp(data, l4)
            hl = (doff >> 4) * 4
            if hl < 20 or l4 + hl > end:
                return None
            pkt.src_port, pkt.dst_port, pkt.seq, pkt.ack = sport, dport, seq, ack
            pkt.tcp_flags = flags
            pkt.window = win
            if hl > 20:
                pkt.tcp_options = data[l4 + 20 : l4 + hl]
            pkt.payload = data[l4 + hl : end]
        elif proto == 17:
            if l4 + 8 > end:
                return None
            pkt.src_port, pkt.dst_port = _udp(data, l4)
            pkt.payload = data[l4 + 8 : end]
        elif (proto == 1 and pkt.ip_version == 4) or (proto == 58 and pkt.ip_version == 6):
            if l4 + 4 > end:
                return None
            pkt.icmp_type, pkt.icmp_code = data[l4], data[l4 + 1]
            if l4 + 8 <= end:
                pkt.icmp_id, pkt.icmp_seq = _icmp_echo(data, l4 + 4)
            pkt.payload = data[l4 + 8 : end]
        else:
            pkt.payload = data[l4:end]
    except struct.error:
        return None
    return pkt
