"""t:jsDecode -- decode JavaScript escapes: ``\\xHH``, ``\\uHHHH``, ``\\OOO`` and ``\\n``-style.

Example: ``SecRule ARGS "@rx <script" "t:jsDecode"`` sees ``\\x3cscript`` as ``<script``.
Follows ModSecurity's ``js_decode_nonstrict_inplace``: ``\\uHHHH`` keeps only the low byte, except
full-width ASCII (``\\uff01``-``\\uff5e``) which maps to its ASCII twin (low byte + 0x20); octal
takes up to three digits (three only when the first is 0-3, so the value fits a byte); any other
escaped character stands for itself; invalid escapes and a trailing backslash are kept as written.
"""

from __future__ import annotations

import re

from services.waf.transformations.base import register

_SIMPLE = {"a": "\x07", "b": "\x08", "f": "\x0c", "n": "\n", "r": "\r", "t": "\t", "v": "\x0b"}
_ESCAPE = re.compile(
    r"\\(?:u([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})|x([0-9A-Fa-f]{2})|([0-3][0-7]{2}|[0-7]{1,2})|([^uxUX0-7]|[uxUX]))",
    re.DOTALL,
)


def _decode(match: re.Match[str]) -> str:
    high, low, hex2, octal, other = match.groups()
    if low is not None:
        value = int(low, 16)
        if high.lower() == "ff" and 0x00 < value < 0x5F:
            value += 0x20
        return chr(value)
    if hex2 is not None:
        return chr(int(hex2, 16))
    if octal is not None:
        return chr(int(octal, 8))
    if other in ("u", "x", "U", "X"):
        return match.group(0)  # an escape without its digits stays as written
    return _SIMPLE.get(other, other)


@register("jsDecode")
def js_decode(value: str) -> str:
    if "\\" not in value:
        return value
    return _ESCAPE.sub(_decode, value)
