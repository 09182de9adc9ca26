"""t:utf8toUnicode -- write each multi-byte UTF-8 sequence as ``%uHHHH`` (ModSecurity semantics).

Example (CRS 941xxx, 942xxx): the full-width ``＜`` (``\\xef\\xbc\\x9c``) becomes ``%uff1c``, which
a later t:urlDecodeUni maps to ``<``. ASCII and invalid sequences are kept byte for byte; code
points above U+FFFF are written with as many hex digits as they need.
"""

from __future__ import annotations

import re

from services.waf.transformations.base import register

_SEQUENCE = re.compile(
    "[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _encode(match: re.Match[str]) -> str:
    try:
        char = match.group(0).encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return match.group(0)
    return f"%u{ord(char):04x}"


@register("utf8toUnicode")
def utf8_to_unicode(value: str) -> str:
    if value.isascii():
        return value
    return _SEQUENCE.sub(_encode, value)
