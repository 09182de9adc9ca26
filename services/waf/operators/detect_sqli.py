"""@detectSQLi -- libinjection's SQL injection tokenizer and fingerprint check.

Example: ``SecRule ARGS "@detectSQLi" "id:1000110,phase:2,t:none,t:urlDecodeUni,capture,deny"``.
With ``capture``, TX:0 is the libinjection fingerprint (e.g. ``s&sos``), as in ModSecurity.
"""

from __future__ import annotations

import libinjection

from services.waf.operators._libinjection import as_text
from services.waf.operators.base import CompileContext, Operator, OperatorContext, register


class DetectSqli(Operator):
    name = "detectSQLi"

    def evaluate(self, ctx: OperatorContext, value: str, capture: bool) -> bool:
        if not value:
            return False
        result = libinjection.is_sql_injection(as_text(value))
        if not result["is_sqli"]:
            return False
        if capture:
            fingerprint = result.get("fingerprint", "")
            ctx.set_captures([fingerprint if isinstance(fingerprint, str) else str(fingerprint)])
        return True


@register("detectSQLi", needs_argument=False)
def make(argument: str, ctx: CompileContext) -> Operator:
    return DetectSqli()
