"""@containsWord -- the argument occurs in the value as a whole word.

Example: ``SecRule ARGS "@containsWord select" "id:1,deny"`` matches ``a select b`` but not
``selection``. A word boundary is the start or end of the value or a byte that is not a letter,
digit or underscore (ModSecurity's ``containsWord``); the argument may contain macros.
"""

from __future__ import annotations

from services.waf.operators._string_ops import StringOperator
from services.waf.operators.base import CompileContext, Operator, macro_argument, register


def _word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def _test(value: str, argument: str) -> bool:
    if not argument:
        return True
    start = value.find(argument)
    while start >= 0:
        end = start + len(argument)
        if (start == 0 or not _word(value[start - 1])) and (end == len(value) or not _word(value[end])):
            return True
        start = value.find(argument, start + 1)
    return False


@register("containsWord")
def make(argument: str, ctx: CompileContext) -> Operator:
    return StringOperator("containsWord", macro_argument(argument), _test)
