"""t:escapeSeqDecode -- ANSI C escapes: ``\\a \\b \\f \\n \\r \\t \\v \\\\ \\? \\' \\"``, ``\\xHH``, ``\\OOO``.

Example: ``SecRule ARGS "@contains /etc/passwd" "t:escapeSeqDecode"`` sees ``\\x2fetc\\x2fpasswd``.
Invalid escapes are kept as written (ModSecurity's ``ansi_c_sequences_decode_inplace``).
"""

from __future__ import annotations

import re

from services.waf.transformations.base import register

_SIMPLE = {"a": "\x07", "b": "\x08", "f": "\x0c", "n": "\n", "r": "\r", "t": "\t", "v": "\x0b",
           "\\": "\\", "?": "?", "'": "'", '"': '"'}
_ESCAPE = re.compile(r"\\(?:[xX]([0-9A-Fa-f]{2})|([0-7]{1,3})|([abfnrtv\\?'\"]))")


def _decode(match: re.Match[str]) -> str:
    hex2, octal, simple = match.groups()
    if hex2 is not None:
        return chr(int(hex2, 16))
    if octal is not None:
        return chr(int(octal, 8) & 0xFF)
    return _SIMPLE[simple]


@register("escapeSeqDecode")
def escape_seq_decode(value: str) -> str:
    if "\\" not in value:
        return value
    return _ESCAPE.sub(_decode, value)
