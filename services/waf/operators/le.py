"""@le -- integer comparison ``value <= argument`` (C ``atoi`` on both sides, macros allowed).

Example: ``SecRule ARGS:page "@le 0" "id:1,deny"``.
"""

from __future__ import annotations

from services.waf.operators._numeric import NumericOperator
from services.waf.operators.base import CompileContext, Operator, macro_argument, register


def _test(value: int, argument: int) -> bool:
    return value <= argument


@register("le")
def make(argument: str, ctx: CompileContext) -> Operator:
    return NumericOperator("le", macro_argument(argument), _test)
