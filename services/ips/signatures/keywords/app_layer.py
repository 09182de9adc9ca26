"""``app-layer-protocol``: the protocol the flow was detected as.

Example::

    alert tcp any any -> any 443 (app-layer-protocol:!tls; flow:established,to_server; ...)

Suricata 7 (``detect-app-layer-protocol.c``) compares the flow's detected protocol; ``!``
negates; ``failed`` means detection gave up. Names this engine cannot detect can never be the
flow's protocol, so such rules load disabled rather than never match silently.
"""

from __future__ import annotations

from services.ips.model import AppProto
from services.ips.signatures.builder import Builder
from services.ips.signatures.errors import RuleUnsupported
from services.ips.signatures.keywords.base import Arg, keyword
from services.ips.signatures.model import AppProtoCheck

_KNOWN = {p.value for p in AppProto} | {"http1"}


@keyword("app-layer-protocol")
def setup_app_layer_protocol(b: Builder, arg: Arg) -> None:
    if b.app_layer is not None:
        raise arg.error("given twice in one rule")
    text = arg.require().split(",")[0].strip()
    negated = text.startswith("!")
    name = text[1:].strip().lower() if negated else text.lower()
    if not name:
        raise arg.error("expected a protocol name")
    if name not in _KNOWN:
        raise RuleUnsupported(f"app-layer protocol '{name}' not supported")
    b.app_layer = AppProtoCheck("http" if name == "http1" else name, negated)
