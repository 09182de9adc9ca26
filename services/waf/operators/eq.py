"""@eq -- integer comparison ``value == argument`` (C ``atoi`` on both sides, macros allowed).

Example: ``SecRule &ARGS:id "@eq 0" "id:1,deny"``.
"""

from __future__ import annotations

from services.waf.operators._numeric import NumericOperator
from services.waf.operators.base import CompileContext, Operator, macro_argument, register


def _test(value: int, argument: int) -> bool:
    return value == argument


@register("eq")
def make(argument: str, ctx: CompileContext) -> Operator:
    return NumericOperator("eq", macro_argument(argument), _test)
