"""``bsize`` (and ``urilen``): the length of a sticky buffer, as a comparison.

Example::

    dns.query; bsize:<12; content:".top"; endswith;
    http.uri; bsize:10<>20;                 # 11..19 bytes (exclusive range, Suricata's uint form)
    urilen:>512;                            # http.uri length; "urilen:>512,raw" for http.uri.raw

Suricata 7 (``detect-bsize.c``, ``detect-urilen.c``): bsize needs a sticky buffer and does not
move the cursor; ``urilen`` is the same check bound to the normalized (default) or raw URI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.ips.model import AppProto
from services.ips.signatures.builder import Builder
from services.ips.signatures.keywords.base import Arg, keyword
from services.ips.signatures.numbers import NumberError, UintCmp, parse_uint_cmp


@dataclass(frozen=True, slots=True)
class BufferSize:
    cmp: UintCmp
    relative: bool = False
    depends: bool = False
    movable: bool = False

    def find(self, data: bytes, prev: int, ctx: Any, resume: int) -> int:
        return prev if self.cmp.test(len(data)) else -1


def parse_cmp(arg: Arg, text: str, at: int = 0, maximum: int = 2**32 - 1) -> UintCmp:
    try:
        return parse_uint_cmp(text, maximum)
    except NumberError as exc:
        raise arg.error(str(exc), at + exc.offset) from None


@keyword("bsize")
def setup_bsize(b: Builder, arg: Arg) -> None:
    if b.sticky is None:
        raise arg.error("expected a sticky buffer before bsize (e.g. 'http.uri; bsize:>100;')")
    b.add(BufferSize(parse_cmp(arg, arg.require())))


@keyword("urilen")
def setup_urilen(b: Builder, arg: Arg) -> None:
    parts = arg.parts()
    cmp = parse_cmp(arg, parts[0][0], parts[0][1], maximum=65535)
    name = "http.uri"
    for option, at in parts[1:]:
        if option == "raw":
            name = "http.uri.raw"
        elif option != "norm":
            raise arg.error(f"expected 'norm' or 'raw', got {option!r}", at)
    b.use_app_proto(AppProto.HTTP, arg, "urilen")
    b.add(BufferSize(cmp), b.buffer(name))
