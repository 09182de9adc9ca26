"""``flags``: TCP header flags, with Snort/Suricata modifiers and an ignore mask.

Example::

    flags:S,12;        # exactly SYN once the two ECN bits (1=CWR, 2=ECE) are ignored
    flags:SA+;         # SYN and ACK set, others may be too
    flags:*FPU;        # any of FIN, PSH, URG
    flags:!R;          # not RST
    flags:0;           # no flags at all

Suricata 7 (``detect-tcp-flags.c``): letters ``F S R P A U C E`` (``C``/``1`` = CWR, ``E``/``2``
= ECE), ``0`` for none; one modifier ``+`` (all of these, others allowed), ``*`` (any of these),
``!`` (not all of these); no modifier means exactly these; the part after the comma lists flags
to ignore before comparing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.ips.signatures.builder import Builder
from services.ips.signatures.keywords.base import Arg, keyword

BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20, "E": 0x40, "C": 0x80, "2": 0x40, "1": 0x80}


@dataclass(frozen=True, slots=True)
class TcpFlags:
    flags: int
    modifier: str = ""  # "" exact, "+" all, "*" any, "!" not all
    ignore: int = 0

    def match(self, packet: Any) -> bool:
        value = getattr(packet, "tcp_flags", None)
        if value is None:
            return False
        value &= ~self.ignore & 0xFF
        if self.modifier == "":
            return value == self.flags
        if self.modifier == "+":
            return value & self.flags == self.flags
        if self.modifier == "*":
            return bool(value & self.flags)
        return value & self.flags != self.flags


def _bits(arg: Arg, text: str, at: int) -> int:
    bits = 0
    for i, c in enumerate(text):
        bit = BITS.get(c.upper())
        if bit is None:
            raise arg.error(f"expected a flag letter (F S R P A U C E 1 2) or 0, got {c!r}", at + i)
        bits |= bit
    return bits


@keyword("flags")
def setup_flags(b: Builder, arg: Arg) -> None:
    if any(isinstance(c, TcpFlags) for c in b.packet_checks):
        raise arg.error("given twice in one rule")
    text = arg.require()
    spec, comma, mask = text.partition(",")
    spec = spec.strip()
    modifier = ""
    at = 0
    if spec[:1] in ("+", "*", "!"):
        modifier, spec, at = spec[0], spec[1:], 1
    elif spec[-1:] in ("+", "*", "!"):
        modifier, spec = spec[-1], spec[:-1]
    if not spec:
        raise arg.error("expected flag letters")
    flags = 0 if spec == "0" else _bits(arg, spec, at)
    ignore = _bits(arg, mask.strip(), text.index(",") + 1 + len(mask) - len(mask.lstrip())) if comma else 0
    b.packet_checks.append(TcpFlags(flags, modifier, ignore))
