"""``flowbits`` (per flow) and ``xbits`` (per host or host pair): state shared between rules.

Example (a two-step detection, the second rule alerts)::

    flowbits:set,ET.dropper.stage1; flowbits:noalert;
    flowbits:isset,ET.dropper.stage1; content:"MZ"; ...
    xbits:set,ET.scanner,track ip_src,expire 300;

Suricata 7 (``detect-flowbits.c``, ``detect-xbits.c``): ``isset``/``isnotset`` accept ``a|b``
(any of them), ``set``/``unset``/``toggle``/``isset`` accept ``a&b`` (all of them); ``noalert``
stands alone. xbits track ``ip_src``, ``ip_dst`` or ``ip_pair``, with an optional ``expire``.
"""

from __future__ import annotations

import re

from services.ips.signatures.builder import Builder
from services.ips.signatures.keywords.base import Arg, keyword
from services.ips.signatures.model import FlowbitOp, XbitOp

_COMMANDS = ("set", "isset", "isnotset", "unset", "toggle")
_NAME = re.compile(r"[^\s,|&;]+$")


def _names(arg: Arg, cmd: str, text: str, at: int) -> tuple[tuple[str, ...], bool]:
    any_of = "|" in text
    if any_of and "&" in text:
        raise arg.error("can't mix '|' and '&' in one flowbits name list", at)
    if any_of and cmd not in ("isset", "isnotset"):
        raise arg.error(f"'a|b' (any of) only works with isset/isnotset, not {cmd}", at)
    names = tuple(n.strip() for n in re.split(r"[|&]", text))
    for name in names:
        if not name or not _NAME.match(name):
            raise arg.error(f"expected a bit name, got {name!r}", at)
    return names, any_of


@keyword("flowbits")
def setup_flowbits(b: Builder, arg: Arg) -> None:
    parts = arg.parts()
    cmd = parts[0][0].lower()
    if cmd == "noalert":
        if len(parts) != 1:
            raise arg.error("noalert takes no bit name", parts[1][1])
        b.flowbits.append(FlowbitOp("noalert"))
        return
    if cmd not in _COMMANDS:
        raise arg.error(f"expected one of {', '.join(_COMMANDS)} or noalert, got {cmd!r}")
    if len(parts) != 2:
        raise arg.error(f"expected '{cmd},name'", len(arg.require()))
    names, any_of = _names(arg, cmd, parts[1][0], parts[1][1])
    b.flowbits.append(FlowbitOp(cmd, names, any_of))


@keyword("xbits")
def setup_xbits(b: Builder, arg: Arg) -> None:
    parts = arg.parts()
    cmd = parts[0][0].lower()
    if cmd == "noalert":
        b.xbits.append(XbitOp("noalert", "", ""))
        return
    if cmd not in _COMMANDS:
        raise arg.error(f"expected one of {', '.join(_COMMANDS)} or noalert, got {cmd!r}")
    if len(parts) < 3:
        raise arg.error(f"expected '{cmd},name,track ip_src|ip_dst|ip_pair[,expire N]'", len(arg.require()))
    name, at = parts[1]
    if not _NAME.match(name):
        raise arg.error(f"expected a bit name, got {name!r}", at)
    track: str | None = None
    expire: int | None = None
    for option, at in parts[2:]:
        key, _, value = option.partition(" ")
        value = value.strip()
        if key == "track" and value in ("ip_src", "ip_dst", "ip_pair"):
            track = value
        elif key == "expire":
            expire = arg.integer(value, at + len(key) + 1, minimum=1, what="an expiry in seconds")
        else:
            raise arg.error(f"expected 'track ip_src|ip_dst|ip_pair' or 'expire N', got {option!r}", at)
    if track is None:
        raise arg.error("expected a 'track ip_src|ip_dst|ip_pair' option")
    b.xbits.append(XbitOp(cmd, name, track, expire))
