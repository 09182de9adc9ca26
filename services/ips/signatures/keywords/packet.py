"""IP and ICMP header keywords: ``ttl``, ``itype``, ``icode``, ``ip_proto``, ``id``.

Example::

    alert icmp any any -> any any (itype:8; icode:0; dsize:>800; ...)   # big echo request
    alert ip any any -> any any (ip_proto:47; ...)                        # GRE
    alert ip any any -> any any (ttl:<3; ...)

Numbers take Suricata 7's integer forms (``N``, ``<N``, ``>N``, ``N<>M``... see numbers.py);
``ip_proto`` also takes a protocol name (tcp, udp, icmp, gre, esp, ...) and ``!``/``<``/``>``.
A packet without the field (itype on TCP) does not match, as in Suricata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.ips.signatures.builder import Builder
from services.ips.signatures.keywords.base import Arg, keyword
from services.ips.signatures.keywords.bsize import parse_cmp
from services.ips.signatures.numbers import UintCmp

IP_PROTOCOLS = {"icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "udp": 17, "ipv6": 41, "rsvp": 46, "gre": 47,
                "esp": 50, "ah": 51, "ipv6-icmp": 58, "icmpv6": 58, "ospf": 89, "pim": 103, "vrrp": 112, "sctp": 132}


@dataclass(frozen=True, slots=True)
class HeaderField:
    """A packet attribute compared with a number (``attribute`` names the packet view's field)."""

    attribute: str
    cmp: UintCmp

    def match(self, packet: Any) -> bool:
        value = getattr(packet, self.attribute, None)
        return value is not None and self.cmp.test(value)


def _field(attribute: str, maximum: int):
    def setup(b: Builder, arg: Arg) -> None:
        b.packet_checks.append(HeaderField(attribute, parse_cmp(arg, arg.require(), maximum=maximum)))

    return setup


keyword("ttl")(_field("ttl", 255))
keyword("itype")(_field("icmp_type", 255))
keyword("icode")(_field("icmp_code", 255))
keyword("id")(_field("ip_id", 65535))


@keyword("ip_proto")
def setup_ip_proto(b: Builder, arg: Arg) -> None:
    text = arg.require()
    op = text[0] if text[0] in "!<>" else ""
    name = text[len(op):].strip()
    number = IP_PROTOCOLS.get(name.lower())
    if number is None:
        number = arg.integer(name, len(op), maximum=255, what="a protocol number or name")
    cmp = UintCmp({"!": "!=", "<": "<", ">": ">"}.get(op, "="), number)
    b.packet_checks.append(HeaderField("ip_proto", cmp))
