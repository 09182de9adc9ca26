"""``flow``: the connection state and direction a rule applies to.

Example::

    flow:established,to_server;     # a request on a completed TCP handshake
    flow:to_client,only_stream;     # reassembled server data only

Options as in Suricata 7 (``detect-flow.c``): ``established``, ``not_established``,
``stateless``, ``to_server``/``from_client``, ``to_client``/``from_server``, ``only_stream``,
``no_stream``, ``only_frag``, ``no_frag``. Contradictions are errors there and here.
"""

from __future__ import annotations

from services.ips.model import Direction
from services.ips.signatures.builder import Builder
from services.ips.signatures.keywords.base import Arg, keyword
from services.ips.signatures.model import FlowSpec

_DIRECTIONS = {
    "to_server": Direction.TO_SERVER,
    "from_client": Direction.TO_SERVER,
    "to_client": Direction.TO_CLIENT,
    "from_server": Direction.TO_CLIENT,
}


@keyword("flow")
def setup_flow(b: Builder, arg: Arg) -> None:
    if b.flow is not None:
        raise arg.error("given twice in one rule")
    established: bool | None = None
    stateless = False
    direction: Direction | None = None
    stream: str | None = None
    frag: str | None = None
    for option, at in arg.parts():
        option = option.lower()
        if option in _DIRECTIONS:
            if direction is not None:
                raise arg.error("direction given twice (to_server/to_client)", at)
            direction = _DIRECTIONS[option]
        elif option in ("established", "not_established"):
            if established is not None or stateless:
                raise arg.error("established/not_established/stateless given twice", at)
            established = option == "established"
        elif option == "stateless":
            if established is not None or stateless:
                raise arg.error("established/not_established/stateless given twice", at)
            stateless = True
        elif option in ("only_stream", "no_stream"):
            if stream is not None:
                raise arg.error("only_stream/no_stream given twice", at)
            stream = option.split("_")[0]
        elif option in ("only_frag", "no_frag"):
            if frag is not None:
                raise arg.error("only_frag/no_frag given twice", at)
            frag = option.split("_")[0]
        else:
            raise arg.error(
                f"expected established, not_established, stateless, to_server, to_client, from_server, "
                f"from_client, only_stream, no_stream, only_frag or no_frag, got {option!r}",
                at,
            )
    b.flow = FlowSpec(established, stateless, direction, stream, frag)
