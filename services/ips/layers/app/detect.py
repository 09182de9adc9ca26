"""Application-protocol detection from a flow's first bytes, the way Suricata's pattern
matchers and probing parsers do it (``app-layer-detect-proto.c``).

``detect_app_proto(Direction.TO_SERVER, b"GET / HTTP/1.1\\r\\n", 8080, "tcp")`` -> ``AppProto.HTTP``:
HTTP and TLS are recognised by their first bytes on any port (an HTTP method and a space; a TLS
handshake record carrying a ClientHello/ServerHello), DNS by its header on port 53 only (like
Suricata's DNS probing parser, registered on the configured DNS ports, so random UDP is never
taken for DNS). Returns ``None`` while the bytes seen are a prefix of something recognisable and
``AppProto.UNKNOWN`` once they cannot be any protocol we parse; the caller tries the other
direction, then reports ``failed`` as Suricata's EVE ``app_proto`` does.
"""

from __future__ import annotations

from services.ips.model import AppProto, Direction

__all__ = ["detect_app_proto", "HTTP_METHODS"]

#: Methods that start an HTTP request (RFC 9110, WebDAV, and a few seen in the wild).
HTTP_METHODS: tuple[bytes, ...] = (
    b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"CONNECT", b"TRACE", b"PATCH",
    b"PROPFIND", b"PROPPATCH", b"MKCOL", b"COPY", b"MOVE", b"LOCK", b"UNLOCK", b"SEARCH",
    b"REPORT", b"CHECKOUT", b"CHECKIN", b"MERGE", b"MKACTIVITY", b"VERSION-CONTROL",
    b"BASELINE-CONTROL", b"LABEL", b"UNCHECKOUT", b"UPDATE", b"ACL", b"BIND", b"UNBIND",
    b"REBIND", b"MKCALENDAR", b"MKWORKSPACE", b"ORDERPATCH", b"SUBSCRIBE", b"UNSUBSCRIBE",
    b"NOTIFY", b"POLL", b"BMOVE", b"BDELETE", b"BPROPFIND", b"BPROPPATCH", b"BCOPY",
)
_METHOD_TOKENS = tuple(m + b" " for m in HTTP_METHODS)
_LONGEST = max(len(m) for m in _METHOD_TOKENS)
DNS_PORTS = frozenset({53})


def _http(direction: Direction, data: bytes) -> AppProto | None:
    # Stray CRLFs before a request line are tolerated by servers (and libhtp).
    head = data.lstrip(b"\r\n") if direction is Direction.TO_SERVER else data
    if not head:
        return None
    if direction is Direction.TO_SERVER:
        if head.startswith(_METHOD_TOKENS):
            return AppProto.HTTP
        if len(head) < _LONGEST and any(m.startswith(head) for m in _METHOD_TOKENS):
            return None
        return AppProto.UNKNOWN
    if head[:5].upper() == b"HTTP/":
        return AppProto.HTTP
    if len(head) < 5 and b"HTTP/".startswith(head.upper()):
        return None
    return AppProto.UNKNOWN


def _tls(direction: Direction, data: bytes) -> AppProto | None:
    # Handshake record (22), SSL 3.0 .. TLS 1.3 record version, first message ClientHello (1)
    # to the server or ServerHello (2) to the client.
    if data[0] != 0x16:
        return AppProto.UNKNOWN
    if len(data) < 6:
        if len(data) >= 2 and data[1] != 3:
            return AppProto.UNKNOWN
        if len(data) >= 3 and data[2] > 4:
            return AppProto.UNKNOWN
        return None
    if data[1] != 3 or data[2] > 4:
        return AppProto.UNKNOWN
    expected = 1 if direction is Direction.TO_SERVER else 2
    return AppProto.TLS if data[5] == expected else AppProto.UNKNOWN


def _dns_header(direction: Direction, msg: bytes, size: int | None = None) -> bool:
    """Plausible DNS header; ``size`` is the full message length when only its start is here."""
    if len(msg) < 12:
        return False
    flags = msg[2]
    qr = flags >> 7
    opcode = (flags >> 3) & 0xF
    if opcode > 6:
        return False
    if direction is Direction.TO_SERVER and qr:
        return False
    qd = int.from_bytes(msg[4:6], "big")
    an = int.from_bytes(msg[6:8], "big")
    ns = int.from_bytes(msg[8:10], "big")
    ar = int.from_bytes(msg[10:12], "big")
    if qd == 0 and direction is Direction.TO_SERVER:
        return False
    # Each question needs at least 5 bytes, each record 11: the counts must fit the message.
    return 12 + qd * 5 + (an + ns + ar) * 11 <= (size if size is not None else len(msg))


def _dns(direction: Direction, data: bytes, transport: str) -> AppProto | None:
    if transport == "tcp":
        if len(data) < 2 + 12:
            return None
        length = int.from_bytes(data[:2], "big")
        if length < 12:
            return AppProto.UNKNOWN
        return AppProto.DNS if _dns_header(direction, data[2 : 2 + length], length) else AppProto.UNKNOWN
    return AppProto.DNS if _dns_header(direction, data) else AppProto.UNKNOWN


def detect_app_proto(direction: Direction, data: bytes, dst_port: int, transport: str) -> AppProto | None:
    """Protocol of a flow from the first bytes seen in ``direction``; ``dst_port`` is the flow's
    server port. ``None`` means "need more bytes" (TCP only: a datagram is always complete)."""
    if not data:
        return None
    if transport == "udp":
        if dst_port in DNS_PORTS:
            return _dns(direction, data, "udp")
        return AppProto.UNKNOWN
    if transport != "tcp":
        return AppProto.UNKNOWN
    need_more = False
    for probe in (_http(direction, data), _tls(direction, data)):
        if probe is None:
            need_more = True
        elif probe is not AppProto.UNKNOWN:
            return probe
    if dst_port in DNS_PORTS:
        dns = _dns(direction, data, "tcp")
        if dns is None:
            need_more = True
        elif dns is AppProto.DNS:
            return dns
    return None if need_more else AppProto.UNKNOWN
