"""t:cssDecode -- decode CSS 2.1 escapes (``\\3c`` -> ``<``), as ModSecurity's ``css_decode_inplace``.

Example: ``SecRule ARGS "@rx expression\\(" "t:cssDecode,t:lowercase"`` catches
``e\\78pression(``. A backslash takes 1-6 hex digits; with two or more only the last two digits
make the byte (full-width ``ff01``-``ff5e`` maps to ASCII), and one blank after the digits is
part of the escape. A backslash before a newline is removed with it (line continuation); before
any other character it is dropped and the character kept; a trailing backslash is dropped.
"""

from __future__ import annotations

import re

from services.waf.transformations.base import C_SPACE, register

_ESCAPE = re.compile(r"\\(?:([0-9A-Fa-f]{1,6})([ \t\n\v\f\r])?|(\n)|(.)|$)", re.DOTALL)


def _decode(match: re.Match[str]) -> str:
    digits, _blank, newline, other = match.groups()
    if digits is not None:
        if len(digits) == 1:
            return chr(int(digits, 16))
        value = int(digits[-2:], 16)
        if len(digits) >= 4 and digits[-4:-2].lower() == "ff" and 0x00 < value < 0x5F:
            value += 0x20
        return chr(value)
    if newline is not None:
        return ""
    if other is not None:
        return other
    return ""


@register("cssDecode")
def css_decode(value: str) -> str:
    if "\\" not in value:
        return value
    assert C_SPACE  # the blank set of the pattern above
    return _ESCAPE.sub(_decode, value)
