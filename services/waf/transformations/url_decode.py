"""t:urlDecode -- non-strict URL decoding (ModSecurity ``urldecode_nonstrict_inplace``).

Example: ``SecRule REQUEST_URI "@contains <script" "id:1,t:urlDecode"``. ``+`` becomes a space,
``%HH`` with two hex digits becomes that byte, and an invalid escape (``%zz``, a trailing ``%``)
is kept as written rather than rejected, so a malformed request is still inspected.
"""

from __future__ import annotations

import re

from services.waf.transformations.base import register

_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def _byte(match: re.Match[str]) -> str:
    return chr(int(match.group(1), 16))


@register("urlDecode")
def url_decode(value: str) -> str:
    if "%" not in value:
        return value.replace("+", " ") if "+" in value else value
    return _ESCAPE.sub(_byte, value.replace("+", " "))
