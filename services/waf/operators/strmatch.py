"""@strmatch -- the argument (a constant string) occurs anywhere in the value, case-sensitively.

Example: ``SecRule REQUEST_LINE "@strmatch WebZIP" "id:1,deny"``. ModSecurity uses Boyer-Moore-
Horspool here; Python's substring search is the same question answered as fast.
"""

from __future__ import annotations

from services.waf.operators.base import CompileContext, Operator, OperatorContext, register


class StrMatch(Operator):
    name = "strmatch"

    def __init__(self, needle: str) -> None:
        self.needle = needle

    def evaluate(self, ctx: OperatorContext, value: str, capture: bool) -> bool:
        hit = self.needle in value
        if hit and capture:
            ctx.set_captures([self.needle])
        return hit


@register("strmatch")
def make(argument: str, ctx: CompileContext) -> Operator:
    return StrMatch(argument)
