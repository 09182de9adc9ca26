"""@validateUtf8Encoding -- match when the value is not valid UTF-8.

Example (CRS 920250): ``SecRule ARGS "@validateUtf8Encoding" "id:920250,..."`` when
``tx.crs_validate_utf8_encoding`` is set. Invalid means what ModSecurity checks: truncated or
invalid sequences, overlong forms and code points beyond U+10FFFF or in the surrogate range; the
strict UTF-8 codec rejects exactly these.
"""

from __future__ import annotations

from services.waf.operators.base import CompileContext, Operator, OperatorContext, register


class ValidateUtf8Encoding(Operator):
    name = "validateUtf8Encoding"

    def evaluate(self, ctx: OperatorContext, value: str, capture: bool) -> bool:
        if value.isascii():
            return False
        try:
            value.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError as exc:
            if capture:
                ctx.set_captures([value[exc.start : exc.end]])
            return True
        return False


@register("validateUtf8Encoding", needs_argument=False)
def make(argument: str, ctx: CompileContext) -> Operator:
    return ValidateUtf8Encoding()
