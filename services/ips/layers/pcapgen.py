"""Build packet captures from payloads, for tests, rule-pack cases and replay benchmarks.

No captured traffic lives in the repository: every pcap a test needs is generated from what it
should contain::

    frames = tcp_session(
        client=("10.0.0.1", 40000), server=("10.0.0.2", 80),
        exchanges=[(Direction.TO_SERVER, b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"),
                   (Direction.TO_CLIENT, b"HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n")],
        mss=8, reorder=True, retransmit=True)
    write_pcap(tmp_path / "s.pcap", frames)

Sessions get a three-way handshake, data split at ``mss`` bytes, an ACK after each exchange and a
FIN exchange (or RST); options reorder, duplicate or overwrite segments the way evasion tests need
(overlaps resolved first-wins by the reassembler, as Suricata's default policy). Addresses with a
``:`` are IPv6. ``vlan`` adds 802.1Q tags; ``linktype`` picks Ethernet, raw IP or Linux SLL framing.
Checksums are computed, so the frames also pass tools that verify them (Wireshark, Suricata with
checksum validation on).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from services.ips.layers.decode import TH_ACK, TH_FIN, TH_PUSH, TH_RST, TH_SYN
from services.ips.layers.pcap import LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_RAW, write_pcap
from services.ips.model import Direction

__all__ = [
    "Segment",
    "tcp_session",
    "udp_exchange",
    "icmp_echo",
    "ip_packet",
    "tcp_segment",
    "udp_datagram",
    "icmp_message",
    "frame",
    "fragment_ipv4",
    "fragment_ipv6",
    "write_pcap",
    "Frames",
]

Endpoint = tuple[str, int]
Frames = list[tuple[float, bytes]]

CLIENT_MAC = bytes.fromhex("020000000001")
SERVER_MAC = bytes.fromhex("020000000002")


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _pseudo(src: str, dst: str, proto: int, length: int) -> bytes:
    a, b = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if a.version == 4:
        return a.packed + b.packed + struct.pack("!BBH", 0, proto, length)
    return a.packed + b.packed + struct.pack("!IxxxB", length, proto)


def tcp_segment(
    src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes = b"",
    *, window: int = 65535, options: bytes = b"",
) -> bytes:
    """A TCP header + payload with a correct checksum (for ``src`` -> ``dst``)."""
    if len(options) % 4:
        options += b"\x01" * (4 - len(options) % 4)
    doff = (20 + len(options)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, doff << 4, flags, window, 0, 0)
    seg = hdr + options + payload
    csum = _checksum(_pseudo(src, dst, 6, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", csum) + seg[18:]


def udp_datagram(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    length = 8 + len(payload)
    dgram = struct.pack("!HHHH", sport, dport, length, 0) + payload
    csum = _checksum(_pseudo(src, dst, 17, length) + dgram) or 0xFFFF
    return dgram[:6] + struct.pack("!H", csum) + dgram[8:]


def icmp_message(src: str, dst: str, icmp_type: int, code: int, rest: bytes) -> bytes:
    """ICMP (IPv4) or ICMPv6 (IPv6 addresses) message; ``rest`` is everything after the checksum."""
    msg = struct.pack("!BBH", icmp_type, code, 0) + rest
    if ":" in src:
        csum = _checksum(_pseudo(src, dst, 58, len(msg)) + msg)
    else:
        csum = _checksum(msg)
    return msg[:2] + struct.pack("!H", csum) + msg[4:]


def ip_packet(
    src: str, dst: str, proto: int, payload: bytes, *, ttl: int = 64, ident: int = 1, df: bool = True,
    frag_offset: int = 0, more_fragments: bool = False,
) -> bytes:
    """IPv4 or IPv6 packet (by the address family) around a transport payload."""
    if ":" in src:
        return struct.pack("!IHBB", 6 << 28, len(payload), proto, ttl) + (
            ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed + payload
        )
    flags = (0x2 if df and not more_fragments and not frag_offset else 0) | (0x1 if more_fragments else 0)
    hdr = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, (flags << 13) | (frag_offset // 8),
        ttl, proto, 0, ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed,
    )
    hdr = hdr[:10] + struct.pack("!H", _checksum(hdr)) + hdr[12:]
    return hdr + payload


def frame(
    ip: bytes, *, linktype: int = LINKTYPE_ETHERNET, vlan: int | Sequence[int] | None = None,
    src_mac: bytes = CLIENT_MAC, dst_mac: bytes = SERVER_MAC,
) -> bytes:
    """Wrap an IP packet in the link layer of ``linktype``."""
    etype = 0x86DD if ip[0] >> 4 == 6 else 0x0800
    if linktype == LINKTYPE_RAW:
        return ip
    if linktype == LINKTYPE_LINUX_SLL:
        return struct.pack("!HHH", 0, 1, 6) + src_mac + b"\0\0" + struct.pack("!H", etype) + ip
    if linktype != LINKTYPE_ETHERNET:
        raise ValueError(f"pcapgen cannot frame linktype {linktype}")
    tags = b""
    if vlan is not None:
        ids = [vlan] if isinstance(vlan, int) else list(vlan)
        for i, vid in enumerate(ids):
            tpid = 0x88A8 if i == 0 and len(ids) > 1 else 0x8100
            tags += struct.pack("!HH", tpid, vid & 0x0FFF)
        # each tag is (TPID, TCI); the first TPID replaces the ethertype position
        first_tpid, tags = tags[:2], tags[2:]
        return dst_mac + src_mac + first_tpid + tags + struct.pack("!H", etype) + ip
    return dst_mac + src_mac + struct.pack("!H", etype) + ip


def fragment_ipv4(ip: bytes, size: int) -> list[bytes]:
    """Split an IPv4 packet into fragments carrying ``size`` (rounded down to 8) payload bytes."""
    ihl = (ip[0] & 0x0F) * 4
    src, dst = str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20]))
    ident, ttl, proto = struct.unpack("!H", ip[4:6])[0], ip[8], ip[9]
    body = ip[ihl:]
    size = max(8, size // 8 * 8)
    out = []
    for off in range(0, len(body), size):
        out.append(
            ip_packet(src, dst, proto, body[off : off + size], ttl=ttl, ident=ident, frag_offset=off,
                      more_fragments=off + size < len(body))
        )
    return out


def fragment_ipv6(src: str, dst: str, proto: int, payload: bytes, size: int, *, ident: int = 1, ttl: int = 64) -> list[bytes]:
    """IPv6 packets carrying ``payload`` (transport header included) in fragment-header pieces."""
    size = max(8, size // 8 * 8)
    out = []
    for off in range(0, len(payload), size):
        more = off + size < len(payload)
        fh = struct.pack("!BBHI", proto, 0, off | (1 if more else 0), ident)
        out.append(ip_packet(src, dst, 44, fh + payload[off : off + size], ttl=ttl))
    return out


@dataclass(frozen=True, slots=True)
class Segment:
    """One TCP segment of a generated session, before framing (for ``mangle`` callbacks)."""

    direction: Direction
    seq: int
    ack: int
    flags: int
    payload: bytes = b""
    data: bool = False  # part of an exchange (not handshake / ACK / FIN)


def _reorder(segs: list[Segment]) -> list[Segment]:
    """Swap each pair of consecutive data segments of one direction."""
    out = list(segs)
    i = 0
    while i + 1 < len(out):
        a, b = out[i], out[i + 1]
        if a.data and b.data and a.direction == b.direction:
            out[i], out[i + 1] = b, a
            i += 2
        else:
            i += 1
    return out


def _retransmit(segs: list[Segment]) -> list[Segment]:
    """Send every data segment a second time, after the segment that follows it."""
    out: list[Segment] = []
    pending: Segment | None = None
    for s in segs:
        out.append(s)
        if pending is not None:
            out.append(pending)
            pending = None
        if s.data:
            pending = s
    if pending is not None:
        out.append(pending)
    return out


def _overlap(segs: list[Segment]) -> list[Segment]:
    """After each data segment, resend its second half with different bytes: a reassembler that
    lets the later copy win would show ``X``s (the classic overlap evasion)."""
    out: list[Segment] = []
    for s in segs:
        out.append(s)
        if s.data and len(s.payload) >= 2:
            half = len(s.payload) // 2
            out.append(replace(s, seq=s.seq + half, payload=b"X" * (len(s.payload) - half)))
    return out


def tcp_session(
    client: Endpoint,
    server: Endpoint,
    exchanges: Iterable[tuple[Direction, bytes]],
    *,
    start_ts: float = 1_700_000_000.0,
    step: float = 0.001,
    mss: int = 1460,
    reorder: bool = False,
    retransmit: bool = False,
    overlap: bool = False,
    mangle: Callable[[list[Segment]], list[Segment]] | None = None,
    handshake: bool = True,
    close: str | None = "fin",
    isn_client: int = 1_000_000,
    isn_server: int = 2_000_000,
    vlan: int | Sequence[int] | None = None,
    linktype: int = LINKTYPE_ETHERNET,
    ttl: int = 64,
) -> Frames:
    """Frames of one TCP connection carrying ``exchanges`` in order (see the module docstring).

    ``close`` is ``"fin"`` (FIN both ways then ACK), ``"rst"`` (the client resets) or ``None``
    (capture ends with the connection open). ``isn_*`` near 2**32 exercise sequence wrap-around.
    """
    csrc, cport = client
    ssrc, sport = server
    nxt = {Direction.TO_SERVER: isn_client & 0xFFFFFFFF, Direction.TO_CLIENT: isn_server & 0xFFFFFFFF}
    segs: list[Segment] = []
    C2S, S2C = Direction.TO_SERVER, Direction.TO_CLIENT

    def add(d: Direction, flags: int, payload: bytes = b"", data: bool = False) -> None:
        segs.append(Segment(d, nxt[d], nxt[d.reverse], flags, payload, data))
        nxt[d] = (nxt[d] + len(payload) + (1 if flags & (TH_SYN | TH_FIN) else 0)) & 0xFFFFFFFF

    if handshake:
        segs.append(Segment(C2S, nxt[C2S], 0, TH_SYN))
        nxt[C2S] = (nxt[C2S] + 1) & 0xFFFFFFFF
        add(S2C, TH_SYN | TH_ACK)
        add(C2S, TH_ACK)
    for d, blob in exchanges:
        for i in range(0, len(blob), mss):
            add(d, TH_PUSH | TH_ACK, blob[i : i + mss], data=True)
        add(d.reverse, TH_ACK)
    if reorder:
        segs = _reorder(segs)
    if retransmit:
        segs = _retransmit(segs)
    if overlap:
        segs = _overlap(segs)
    if mangle is not None:
        segs = mangle(segs)
    if close == "fin":
        add(C2S, TH_FIN | TH_ACK)
        add(S2C, TH_FIN | TH_ACK)
        add(C2S, TH_ACK)
    elif close == "rst":
        add(C2S, TH_RST | TH_ACK)
    elif close is not None:
        raise ValueError(f"close must be 'fin', 'rst' or None, not {close!r}")

    frames: Frames = []
    ts = start_ts
    for s in segs:
        if s.direction is C2S:
            src, dst, sp, dp, smac, dmac = csrc, ssrc, cport, sport, CLIENT_MAC, SERVER_MAC
        else:
            src, dst, sp, dp, smac, dmac = ssrc, csrc, sport, cport, SERVER_MAC, CLIENT_MAC
        seg = tcp_segment(src, dst, sp, dp, s.seq, s.ack, s.flags, s.payload)
        ip = ip_packet(src, dst, 6, seg, ttl=ttl)
        frames.append((ts, frame(ip, linktype=linktype, vlan=vlan, src_mac=smac, dst_mac=dmac)))
        ts += step
    return frames


def udp_exchange(
    client: Endpoint,
    server: Endpoint,
    datagrams: Iterable[tuple[Direction, bytes]],
    *,
    start_ts: float = 1_700_000_000.0,
    step: float = 0.001,
    vlan: int | Sequence[int] | None = None,
    linktype: int = LINKTYPE_ETHERNET,
    fragment_size: int | None = None,
    ttl: int = 64,
) -> Frames:
    """Frames of UDP datagrams between two endpoints; ``fragment_size`` splits IPv4 packets."""
    frames: Frames = []
    ts = start_ts
    for d, payload in datagrams:
        (src, sp), (dst, dp) = (client, server) if d is Direction.TO_SERVER else (server, client)
        ip = ip_packet(src, dst, 17, udp_datagram(src, dst, sp, dp, payload), ttl=ttl)
        parts = fragment_ipv4(ip, fragment_size) if fragment_size and ":" not in src else [ip]
        for part in parts:
            frames.append((ts, frame(part, linktype=linktype, vlan=vlan)))
            ts += step
    return frames


def icmp_echo(
    src: str, dst: str, payload: bytes = b"abcdefgh", *, ident: int = 1, seq: int = 1, reply: bool = True,
    start_ts: float = 1_700_000_000.0, linktype: int = LINKTYPE_ETHERNET,
) -> Frames:
    """An echo request (and reply) between ``src`` and ``dst`` (ICMPv6 for IPv6 addresses)."""
    v6 = ":" in src
    req_t, rep_t, proto = (128, 129, 58) if v6 else (8, 0, 1)
    rest = struct.pack("!HH", ident, seq) + payload
    frames = [(start_ts, frame(ip_packet(src, dst, proto, icmp_message(src, dst, req_t, 0, rest)), linktype=linktype))]
    if reply:
        frames.append(
            (start_ts + 0.001, frame(ip_packet(dst, src, proto, icmp_message(dst, src, rep_t, 0, rest)), linktype=linktype))
        )
    return frames
