"""``isdataat``: is there data at an offset (absolute, or after the previous match)?

Example::

    content:"USER "; isdataat:100,relative;       # an overlong argument follows
    content:"|00|"; isdataat:!1,relative;         # ... and nothing after the NUL

As Suricata (``detect-isdataat.c`` and the content inspection engine): absolute ``N`` holds when
the buffer is longer than N; relative ``N`` when ``prev + N <= len`` (so ``isdataat:1,relative``
means one more byte exists); ``!`` negates; N may be a byte_extract variable; ``rawbytes`` is
accepted and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.ips.signatures.builder import Builder
from services.ips.signatures.keywords.base import Arg, keyword


@dataclass(frozen=True, slots=True)
class IsDataAt:
    offset: int
    negated: bool = False
    relative: bool = False
    offset_var: str | None = None
    depends: bool = False
    movable: bool = False

    def find(self, data: bytes, prev: int, ctx: Any, resume: int) -> int:
        offset = self.offset if self.offset_var is None else ctx.vars.get(self.offset_var, 0)
        ok = prev + offset <= len(data) if self.relative else offset < len(data)
        return prev if ok != self.negated else -1


@keyword("isdataat")
def setup_isdataat(b: Builder, arg: Arg) -> None:
    parts = arg.parts()
    text, at = parts[0]
    negated = text.startswith("!")
    if negated:
        text, at = text[1:].strip(), at + 1
    var = None
    if text.isdigit():
        offset = arg.integer(text, at, maximum=65535, what="an offset")
    elif text in b.byte_vars:
        offset, var = 0, text
    else:
        raise arg.error(f"expected an offset or a byte_extract variable, got {text!r}", at)
    relative = False
    for option, oat in parts[1:]:
        if option == "relative":
            relative = True
        elif option != "rawbytes":
            raise arg.error(f"expected 'relative' or 'rawbytes', got {option!r}", oat)
    b.add(IsDataAt(offset, negated, relative, var, relative or var is not None))
