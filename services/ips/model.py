"""Value types every IPS layer shares: directions, flow tuples, app-layer protocol names.

Kept apart so the sans-IO layers, the detection engine and the two drivers (inline proxy, pcap
replay) agree on one vocabulary without importing each other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Direction(enum.IntEnum):
    """Which way data travels in a flow. The client is the side that opened it (sent the SYN)."""

    TO_SERVER = 0
    TO_CLIENT = 1

    @property
    def reverse(self) -> Direction:
        return Direction.TO_CLIENT if self is Direction.TO_SERVER else Direction.TO_SERVER


class AppProto(str, enum.Enum):
    """Application protocols the light parsers recognise (EVE ``app_proto`` values)."""

    UNKNOWN = "unknown"
    FAILED = "failed"
    HTTP = "http"
    DNS = "dns"
    TLS = "tls"


@dataclass(frozen=True, slots=True)
class FlowTuple:
    """A flow seen from its client: ``src`` is the client, ``dst`` the server.

    ``proto`` is the transport: ``"tcp"``, ``"udp"``, ``"icmp"`` (ICMPv6 included) or ``"ip"``
    for anything else; ports are 0 where the transport has none.
    """

    proto: str
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int

    def reversed(self) -> FlowTuple:
        return FlowTuple(self.proto, self.dst_ip, self.dst_port, self.src_ip, self.src_port)
