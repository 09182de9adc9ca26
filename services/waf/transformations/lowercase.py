"""t:lowercase -- ASCII A-Z to a-z, byte by byte (C ``tolower`` in the C locale).

Example: ``SecRule ARGS "@contains union" "id:1,t:none,t:lowercase"``. Bytes above 0x7f are left
alone, as ModSecurity does, so ``\\xc0`` is not folded to ``\\xe0``.
"""

from __future__ import annotations

from services.waf.transformations.base import register

_TABLE = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@register("lowercase")
def lowercase(value: str) -> str:
    return value.translate(_TABLE)
