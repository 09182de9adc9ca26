"""t:sqlHexDecode -- decode SQL hex literals ``0x414243`` -> ``ABC`` (ModSecurity v3 semantics).

Example: ``SecRule ARGS "@contains union" "t:sqlHexDecode,t:lowercase"``. Only pairs of hex
digits are decoded; an odd trailing digit ends the literal and is kept.
"""

from __future__ import annotations

import re

from services.waf.transformations.base import register

_LITERAL = re.compile(r"0[xX]((?:[0-9A-Fa-f]{2})+)")


@register("sqlHexDecode")
def sql_hex_decode(value: str) -> str:
    if "0x" not in value and "0X" not in value:
        return value
    return _LITERAL.sub(lambda m: bytes.fromhex(m.group(1)).decode("latin-1"), value)
