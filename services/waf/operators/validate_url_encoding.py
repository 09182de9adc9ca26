"""@validateUrlEncoding -- match when a ``%`` escape is invalid (non-hex digits, or cut short).

Example (CRS 920220): ``SecRule REQUEST_URI "@validateUrlEncoding" "id:920220,..."``.
"""

from __future__ import annotations

import re

from services.waf.operators.base import CompileContext, Operator, OperatorContext, register

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class ValidateUrlEncoding(Operator):
    name = "validateUrlEncoding"

    def evaluate(self, ctx: OperatorContext, value: str, capture: bool) -> bool:
        if "%" not in value:
            return False
        match = _BAD_ESCAPE.search(value)
        if match is None:
            return False
        if capture:
            ctx.set_captures([value[match.start() : match.start() + 3]])
        return True


@register("validateUrlEncoding", needs_argument=False)
def make(argument: str, ctx: CompileContext) -> Operator:
    return ValidateUrlEncoding()
