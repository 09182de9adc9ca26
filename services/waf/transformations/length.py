"""t:length -- the value's length in bytes, as a decimal string.

Example: ``SecRule ARGS:comment "@gt 4096" "id:1,t:length,deny"``.
"""

from __future__ import annotations

from services.waf.transformations.base import register


@register("length")
def length(value: str) -> str:
    return str(len(value))
