"""@ge -- integer comparison ``value >= argument`` (C ``atoi`` on both sides, macros allowed).

Example: ``SecRule TX:ANOMALY_SCORE "@ge %{tx.inbound_threshold}" "id:1,deny"``.
"""

from __future__ import annotations

from services.waf.operators._numeric import NumericOperator
from services.waf.operators.base import CompileContext, Operator, macro_argument, register


def _test(value: int, argument: int) -> bool:
    return value >= argument


@register("ge")
def make(argument: str, ctx: CompileContext) -> Operator:
    return NumericOperator("ge", macro_argument(argument), _test)
