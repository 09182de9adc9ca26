"""t:trim -- strip C ``isspace`` whitespace at both ends (NBSP is kept, as in ModSecurity).

Example: ``SecRule ARGS:mode "@streq debug" "id:1,t:trim"``; trimLeft/trimRight strip one side.
"""

from __future__ import annotations

from services.waf.transformations.base import C_SPACE, register


@register("trim")
def trim(value: str) -> str:
    return value.strip(C_SPACE)


@register("trimLeft")
def trim_left(value: str) -> str:
    return value.lstrip(C_SPACE)


@register("trimRight")
def trim_right(value: str) -> str:
    return value.rstrip(C_SPACE)
