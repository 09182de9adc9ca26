"""App-layer protocol detection from first bytes."""

from __future__ import annotations

import pytest

from services.ips.layers.app.detect import detect_app_proto
from services.ips.model import AppProto, Direction

C2S, S2C = Direction.TO_SERVER, Direction.TO_CLIENT

DNS_QUERY = bytes.fromhex("1234 0100 0001 0000 0000 0000") + b"\x07example\x03com\x00\x00\x01\x00\x01"


@pytest.mark.parametrize(
    ("direction", "data", "port", "transport", "want"),
    [
        (C2S, b"GET / HTTP/1.1\r\n", 8080, "tcp", AppProto.HTTP),
        (C2S, b"\r\nPOST /x HTTP/1.1", 1, "tcp", AppProto.HTTP),
        (C2S, b"PROPFIND / HTTP/1.1", 80, "tcp", AppProto.HTTP),
        (C2S, b"GE", 80, "tcp", None),
        (C2S, b"GET", 80, "tcp", None),
        (C2S, b"GETX / HTTP/1.1", 80, "tcp", AppProto.UNKNOWN),
        (S2C, b"HTTP/1.1 200 OK\r\n", 80, "tcp", AppProto.HTTP),
        (S2C, b"HTT", 80, "tcp", None),
        (C2S, b"SSH-2.0-OpenSSH_9\r\n", 22, "tcp", AppProto.UNKNOWN),
        (C2S, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc", 443, "tcp", AppProto.TLS),
        (C2S, b"\x16\x03\x01", 443, "tcp", None),
        (S2C, b"\x16\x03\x03\x00\x5a\x02", 443, "tcp", AppProto.TLS),
        (C2S, b"\x16\x03\x03\x00\x5a\x02", 443, "tcp", AppProto.UNKNOWN),  # ServerHello sent by the client
        (C2S, b"\x16\x07\x01", 443, "tcp", AppProto.UNKNOWN),
        (C2S, DNS_QUERY, 53, "udp", AppProto.DNS),
        (C2S, DNS_QUERY, 5300, "udp", AppProto.UNKNOWN),  # DNS only on its port, like Suricata's probing parser
        (C2S, len(DNS_QUERY).to_bytes(2, "big") + DNS_QUERY, 53, "tcp", AppProto.DNS),
        (C2S, len(DNS_QUERY).to_bytes(2, "big") + DNS_QUERY[:5], 53, "tcp", None),
        (C2S, len(DNS_QUERY).to_bytes(2, "big") + DNS_QUERY[:14], 53, "tcp", AppProto.DNS),  # header seen
        (C2S, b"\x00" * 40, 53, "udp", AppProto.UNKNOWN),
        (C2S, b"", 80, "tcp", None),
        (C2S, b"anything", 0, "icmp", AppProto.UNKNOWN),
    ],
)
def test_detect(direction, data, port, transport, want):
    assert detect_app_proto(direction, data, port, transport) == want


def test_new_parser_per_protocol():
    from services.ips.layers.app import new_parser
    from services.ips.layers.app.dns import DnsParser
    from services.ips.layers.app.http import HttpParser
    from services.ips.layers.app.tls import TlsParser

    assert isinstance(new_parser(AppProto.HTTP, "tcp"), HttpParser)
    assert isinstance(new_parser(AppProto.TLS, "tcp"), TlsParser)
    dns = new_parser(AppProto.DNS, "tcp")
    assert isinstance(dns, DnsParser) and dns.transport == "tcp"
    assert new_parser(AppProto.HTTP, "udp") is None and new_parser(AppProto.FAILED, "tcp") is None
