"""@streq -- ``value == argument`` (byte-exact, case-sensitive; the argument may contain macros).

Example: ``SecRule REQUEST_METHOD "@streq TRACE" "id:1,deny"``.
"""

from __future__ import annotations

from services.waf.operators._string_ops import StringOperator
from services.waf.operators.base import CompileContext, Operator, macro_argument, register


def _test(value: str, argument: str) -> bool:
    return value == argument


@register("streq")
def make(argument: str, ctx: CompileContext) -> Operator:
    return StringOperator("streq", macro_argument(argument), _test)
