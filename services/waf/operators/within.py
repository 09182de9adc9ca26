"""@within -- ``bool(value) and value in argument`` (byte-exact, case-sensitive; the argument may contain macros).

Example: ``SecRule REQUEST_METHOD "!@within GET HEAD POST" "id:1,deny"``.
The argument is one string: ``GET`` is within ``GET HEAD``, and so is ``GE``, as in ModSecurity; an
empty value never matches.
"""

from __future__ import annotations

from services.waf.operators._string_ops import StringOperator
from services.waf.operators.base import CompileContext, Operator, macro_argument, register


def _test(value: str, argument: str) -> bool:
    return bool(value) and value in argument


@register("within")
def make(argument: str, ctx: CompileContext) -> Operator:
    return StringOperator("within", macro_argument(argument), _test)
