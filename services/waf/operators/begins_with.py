"""@beginsWith -- ``value.startswith(argument)`` (byte-exact, case-sensitive; the argument may contain macros).

Example: ``SecRule REQUEST_FILENAME "@beginsWith /admin" "id:1,deny"``.
"""

from __future__ import annotations

from services.waf.operators._string_ops import StringOperator
from services.waf.operators.base import CompileContext, Operator, macro_argument, register


def _test(value: str, argument: str) -> bool:
    return value.startswith(argument)


@register("beginsWith")
def make(argument: str, ctx: CompileContext) -> Operator:
    return StringOperator("beginsWith", macro_argument(argument), _test)
