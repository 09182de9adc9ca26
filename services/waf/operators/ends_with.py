"""@endsWith -- ``value.endswith(argument)`` (byte-exact, case-sensitive; the argument may contain macros).

Example: ``SecRule REQUEST_BASENAME "@endsWith .bak" "id:1,deny"``.
"""

from __future__ import annotations

from services.waf.operators._string_ops import StringOperator
from services.waf.operators.base import CompileContext, Operator, macro_argument, register


def _test(value: str, argument: str) -> bool:
    return value.endswith(argument)


@register("endsWith")
def make(argument: str, ctx: CompileContext) -> Operator:
    return StringOperator("endsWith", macro_argument(argument), _test)
