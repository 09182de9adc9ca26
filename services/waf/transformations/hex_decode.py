"""t:hexDecode -- pairs of hex digits to bytes.

Example: ``SecRule ARGS:data "@contains <script" "id:1,t:hexDecode"``. A value that is not an
even-length run of hex digits is left unchanged (ModSecurity would produce garbage bytes).
"""

from __future__ import annotations

from services.waf.transformations.base import register


@register("hexDecode")
def hex_decode(value: str) -> str:
    try:
        return bytes.fromhex(value).decode("latin-1") if len(value) % 2 == 0 else value
    except ValueError:
        return value
