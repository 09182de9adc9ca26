"""Calling libinjection (the ``libinjection-python`` binding) on ModSecurity byte strings.

The binding takes ``str`` and encodes it as UTF-8 before scanning; our values are latin-1 byte
strings, so valid UTF-8 is decoded first to hand libinjection the exact bytes. Other input is
passed as is (bytes >= 0x80 then reach libinjection as two-byte sequences, which it treats as
word characters either way).
"""

from __future__ import annotations


def as_text(value: str) -> str:
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return value
