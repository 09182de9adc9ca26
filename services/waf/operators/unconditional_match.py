"""@unconditionalMatch -- always matches (what SecAction uses).

Example: ``SecRule REQUEST_URI "@unconditionalMatch" "id:1,phase:1,pass,setvar:tx.seen=1"``.
"""

from __future__ import annotations

from services.waf.operators.base import CompileContext, Operator, OperatorContext, register


class UnconditionalMatch(Operator):
    name = "unconditionalMatch"

    def evaluate(self, ctx: OperatorContext, value: str, capture: bool) -> bool:
        return True


@register("unconditionalMatch", needs_argument=False)
def make(argument: str, ctx: CompileContext) -> Operator:
    return UnconditionalMatch()
