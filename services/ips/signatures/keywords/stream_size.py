"""``stream_size``: bytes a TCP side has sent so far (sequence progress), compared with a number.

Example::

    flow:established,to_server; stream_size:server,<,5;    # the server has said (almost) nothing

Suricata 7 (``detect-stream_size.c``): ``server``, ``client``, ``both`` (each side) or ``either``
(one side) with ``< > = != <= >=``. The packet view provides ``stream_client_bytes`` /
``stream_server_bytes`` (bytes each side has sent in this flow); without them it does not match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.ips.signatures.builder import Builder
from services.ips.signatures.keywords.base import Arg, keyword
from services.ips.signatures.numbers import UintCmp

_OPS = {"<": "<", ">": ">", "=": "=", "!=": "!=", "<=": "<=", ">=": ">="}


@dataclass(frozen=True, slots=True)
class StreamSize:
    side: str  # server client both either
    cmp: UintCmp

    def match(self, packet: Any) -> bool:
        client = getattr(packet, "stream_client_bytes", None)
        server = getattr(packet, "stream_server_bytes", None)
        if client is None or server is None:
            return False
        test = self.cmp.test
        if self.side == "server":
            return test(server)
        if self.side == "client":
            return test(client)
        if self.side == "both":
            return test(server) and test(client)
        return test(server) or test(client)


@keyword("stream_size")
def setup_stream_size(b: Builder, arg: Arg) -> None:
    parts = arg.parts()
    if len(parts) != 3:
        raise arg.error("expected 'server|client|both|either, operator, bytes'")
    side, op, value = parts
    if side[0] not in ("server", "client", "both", "either"):
        raise arg.error(f"expected server, client, both or either, got {side[0]!r}", side[1])
    if op[0] not in _OPS:
        raise arg.error(f"expected one of < > = != <= >=, got {op[0]!r}", op[1])
    number = arg.integer(value[0], value[1], what="a byte count")
    b.packet_checks.append(StreamSize(side[0], UintCmp(_OPS[op[0]], number)))
