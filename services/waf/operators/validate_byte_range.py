"""@validateByteRange -- match when the value holds a byte outside the allowed ranges.

Example (CRS 920270): ``SecRule ARGS "@validateByteRange 1-255" "id:920270,..."`` flags NUL bytes.
The argument lists bytes and ranges separated by commas (``9,10,13,32-126``), as ModSecurity.
"""

from __future__ import annotations

from services.waf.operators.base import CompileContext, Operator, OperatorContext, register


class ValidateByteRange(Operator):
    name = "validateByteRange"

    def __init__(self, allowed: frozenset[str]) -> None:
        self.allowed = allowed

    def evaluate(self, ctx: OperatorContext, value: str, capture: bool) -> bool:
        allowed = self.allowed
        for ch in value:
            if ch not in allowed:
                if capture:
                    ctx.set_captures([ch])
                return True
        return False


@register("validateByteRange")
def make(argument: str, ctx: CompileContext) -> Operator:
    allowed: set[str] = set()
    for piece in argument.replace(" ", "").split(","):
        if not piece:
            continue
        low, dash, high = piece.partition("-")
        try:
            first = int(low)
            last = int(high) if dash else first
        except ValueError:
            raise ValueError(f"@validateByteRange: invalid range {piece!r}; expected N or N-M with 0 <= N <= M <= 255") from None
        if not 0 <= first <= last <= 255:
            raise ValueError(f"@validateByteRange: invalid range {piece!r}; expected N or N-M with 0 <= N <= M <= 255")
        allowed.update(chr(b) for b in range(first, last + 1))
    if not allowed:
        raise ValueError("@validateByteRange needs at least one byte or range, e.g. 1-255")
    return ValidateByteRange(frozenset(allowed))
