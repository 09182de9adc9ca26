"""t:htmlEntityDecode -- decode HTML character references the way ModSecurity does.

Example: ``SecRule ARGS "@rx <script" "id:1,t:htmlEntityDecode"`` catches ``&lt;script``.
Handles ``&#DDD;`` and ``&#xHH;`` (the semicolon is optional; only the low byte of the code point
is kept, as ModSecurity stores a single byte) and the named references ``&quot; &amp; &lt; &gt;
&nbsp;`` (case-insensitive; ``&nbsp;`` is byte 0xa0). Anything else is left as written.
"""

from __future__ import annotations

import re

from services.waf.transformations.base import register

_NAMED = {"quot": '"', "amp": "&", "lt": "<", "gt": ">", "nbsp": "\xa0"}
_REFERENCE = re.compile(r"&(?:#[xX]([0-9A-Fa-f]+)|#([0-9]+)|([A-Za-z0-9]+));?")


def _decode(match: re.Match[str]) -> str:
    hex_digits, dec_digits, name = match.groups()
    if hex_digits is not None:
        return chr(int(hex_digits, 16) & 0xFF)
    if dec_digits is not None:
        return chr(int(dec_digits) & 0xFF)
    replacement = _NAMED.get(name.lower())
    if replacement is None:
        return match.group(0)
    return replacement


@register("htmlEntityDecode")
def html_entity_decode(value: str) -> str:
    if "&" not in value:
        return value
    return _REFERENCE.sub(_decode, value)
