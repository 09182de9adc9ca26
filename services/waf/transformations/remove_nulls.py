"""t:removeNulls -- delete NUL bytes, which C-string based back ends would stop at.

Example: ``SecRule ARGS "@rx etc/passwd" "id:1,t:removeNulls"`` sees ``etc/pa\\x00sswd`` joined.
"""

from __future__ import annotations

from services.waf.transformations.base import register


@register("removeNulls")
def remove_nulls(value: str) -> str:
    return value.replace("\x00", "")
