"""@noMatch -- never matches (to switch a rule off without deleting it).

Example: ``SecRule ARGS "@noMatch" "id:1,phase:2,pass"``.
"""

from __future__ import annotations

from services.waf.operators.base import CompileContext, Operator, OperatorContext, register


class NoMatch(Operator):
    name = "noMatch"

    def evaluate(self, ctx: OperatorContext, value: str, capture: bool) -> bool:
        return False


@register("noMatch", needs_argument=False)
def make(argument: str, ctx: CompileContext) -> Operator:
    return NoMatch()
