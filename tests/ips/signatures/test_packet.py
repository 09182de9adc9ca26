"""Packet-level keywords: flags, ttl, itype/icode, ip_proto, id, stream_size."""

from __future__ import annotations

import pytest

from tests.ips.signatures.helpers import rule

F, S, R, P, A, U, E, C = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80


class Pkt:
    def __init__(self, **kw) -> None:
        self.__dict__.update(kw)


def check(options: str, **packet) -> bool:
    sig = rule(options)
    return all(c.match(Pkt(**packet)) for c in sig.packet_checks)


@pytest.mark.parametrize(
    ("spec", "flags", "expected"),
    [
        ("S", S, True), ("S", S | A, False), ("SA", S | A, True), ("SA+", S | A | P, True),
        ("SA+", S, False), ("*FPU", P, True), ("*FPU", S, False), ("!R", S, True), ("!R", R, False),
        ("0", 0, True), ("0", A, False), ("S,12", S | C | E, True), ("S,CE", S | E, True), ("S", S | C, False),
        ("+SA", S | A | F, True),
    ],
)
def test_tcp_flags(spec: str, flags: int, expected: bool) -> None:
    assert check(f"flags:{spec};", tcp_flags=flags) is expected


def test_flags_absent_on_non_tcp() -> None:
    assert not check("flags:S;", tcp_flags=None)


def test_header_fields() -> None:
    assert check("itype:8; icode:0;", icmp_type=8, icmp_code=0)
    assert not check("itype:8;", icmp_type=0)
    assert not check("itype:8;", icmp_type=None)
    assert check("ttl:<3;", ttl=2) and not check("ttl:<3;", ttl=64)
    assert check("ip_proto:47;", ip_proto=47) and check("ip_proto:gre;", ip_proto=47)
    assert check("ip_proto:!tcp;", ip_proto=17) and not check("ip_proto:!tcp;", ip_proto=6)
    assert check("id:31337;", ip_id=31337)
    assert check("itype:>10;", icmp_type=13)


def test_stream_size() -> None:
    assert check("stream_size:server,<,5;", stream_client_bytes=100, stream_server_bytes=0)
    assert not check("stream_size:server,<,5;", stream_client_bytes=100, stream_server_bytes=10)
    assert check("stream_size:either,>,50;", stream_client_bytes=100, stream_server_bytes=0)
    assert not check("stream_size:both,>,50;", stream_client_bytes=100, stream_server_bytes=0)
    assert not check("stream_size:client,>,5;")
