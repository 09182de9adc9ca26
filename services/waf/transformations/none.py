"""t:none -- drop every transformation listed before it (and the SecDefaultAction ones).

Example: ``SecRule ARGS "@rx x" "id:1,t:none,t:lowercase"``. The action parser resets the list
when it sees ``none``; as a function it is the identity.
"""

from __future__ import annotations

from services.waf.transformations.base import register


@register("none")
def none(value: str) -> str:
    return value
