"""t:urlDecodeUni -- URL decoding plus Microsoft ``%uHHHH`` escapes.

Example: ``SecRule ARGS "@rx <script" "id:1,t:none,t:urlDecodeUni"`` catches ``%u003cscript``.
Without a SecUnicodeMapFile, ModSecurity keeps only the low byte of ``%uHHHH``; for the
full-width ASCII range (``%uff01``-``%uff5e``) it adds 0x20 so that ``%uff1c`` decodes to ``<``.
Invalid escapes are kept as written; ``+`` is a space.
"""

from __future__ import annotations

import re

from services.waf.transformations.base import register

_ESCAPE = re.compile(r"%(?:[uU]([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})|([0-9A-Fa-f]{2}))")


def _decode(match: re.Match[str]) -> str:
    plain = match.group(3)
    if plain is not None:
        return chr(int(plain, 16))
    high, low = match.group(1), int(match.group(2), 16)
    if high in ("ff", "FF", "fF", "Ff") and 0x00 < low < 0x5F:
        low += 0x20
    return chr(low)


@register("urlDecodeUni")
def url_decode_uni(value: str) -> str:
    if "%" not in value:
        return value.replace("+", " ") if "+" in value else value
    return _ESCAPE.sub(_decode, value.replace("+", " "))
