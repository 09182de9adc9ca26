"""@detectXSS -- libinjection's HTML/JavaScript context XSS check.

Example: ``SecRule ARGS "@detectXSS" "id:1000200,phase:2,t:none,t:urlDecodeUni,t:htmlEntityDecode,deny"``.
"""

from __future__ import annotations

import libinjection

from services.waf.operators._libinjection import as_text
from services.waf.operators.base import CompileContext, Operator, OperatorContext, register


class DetectXss(Operator):
    name = "detectXSS"

    def evaluate(self, ctx: OperatorContext, value: str, capture: bool) -> bool:
        if not value:
            return False
        matched = bool(libinjection.is_xss(as_text(value))["is_xss"])
        if matched and capture:
            ctx.set_captures([value])
        return matched


@register("detectXSS", needs_argument=False)
def make(argument: str, ctx: CompileContext) -> Operator:
    return DetectXss()
