"""t:replaceNulls -- NUL bytes become spaces.

Example: ``SecRule ARGS "@rx select\\s" "id:1,t:replaceNulls"`` treats ``select\\x00`` as a word end.
"""

from __future__ import annotations

from services.waf.transformations.base import register


@register("replaceNulls")
def replace_nulls(value: str) -> str:
    return value.replace("\x00", " ")
