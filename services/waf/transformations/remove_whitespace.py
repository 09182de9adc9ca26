"""t:removeWhitespace -- delete every whitespace byte (C ``isspace`` plus NBSP 0xa0).

Example: ``SecRule ARGS "@contains unionselect" "id:1,t:removeWhitespace"``.
"""

from __future__ import annotations

from services.waf.transformations.base import C_SPACE, NBSP, register

_TABLE = str.maketrans("", "", C_SPACE + NBSP)


@register("removeWhitespace")
def remove_whitespace(value: str) -> str:
    return value.translate(_TABLE)
