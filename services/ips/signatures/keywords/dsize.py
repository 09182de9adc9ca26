"""``dsize``: the payload size of the packet (never of the reassembled stream).

Example::

    alert udp any any -> any 53 (dsize:>512; ...)
    alert tcp any any -> any any (flow:established; dsize:0; ...)

As in Suricata (``detect-dsize.c``) a rule with dsize is a packet rule: it is inspected against
each packet's payload, never the stream, so the engine reads ``packet.payload``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.ips.signatures.builder import Builder
from services.ips.signatures.keywords.base import Arg, keyword
from services.ips.signatures.keywords.bsize import parse_cmp
from services.ips.signatures.numbers import UintCmp


@dataclass(frozen=True, slots=True)
class Dsize:
    cmp: UintCmp

    def match(self, packet: Any) -> bool:
        payload = getattr(packet, "payload", None)
        return payload is not None and self.cmp.test(len(payload))


@keyword("dsize")
def setup_dsize(b: Builder, arg: Arg) -> None:
    if any(isinstance(c, Dsize) for c in b.packet_checks):
        raise arg.error("given twice in one rule")
    b.packet_checks.append(Dsize(parse_cmp(arg, arg.require(), maximum=65535)))
