"""t:hexEncode -- each byte as two lower-case hex digits (``ab`` -> ``6162``).

Example: ``t:sha1,t:hexEncode`` gives the familiar 40-character SHA-1 text.
"""

from __future__ import annotations

from services.waf.transformations.base import register


@register("hexEncode")
def hex_encode(value: str) -> str:
    return value.encode("latin-1").hex()
