"""@lt -- integer comparison ``value < argument`` (C ``atoi`` on both sides, macros allowed).

Example: ``SecRule REQUEST_HEADERS:Content-Length "@lt 0" "id:1,deny"``.
"""

from __future__ import annotations

from services.waf.operators._numeric import NumericOperator
from services.waf.operators.base import CompileContext, Operator, macro_argument, register


def _test(value: int, argument: int) -> bool:
    return value < argument


@register("lt")
def make(argument: str, ctx: CompileContext) -> Operator:
    return NumericOperator("lt", macro_argument(argument), _test)
