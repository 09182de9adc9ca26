"""@pm -- case-insensitive match of any of a list of phrases (Aho-Corasick in ModSecurity).

Example: ``SecRule REQUEST_HEADERS:User-Agent "@pm sqlmap nikto nmap" "id:1000600,phase:1,deny"``.
Phrases are separated by blanks; they become Hyperscan ``LITERAL|CASELESS`` patterns in one
database; with ``capture``, TX:0 is the phrase that matched.
"""

from __future__ import annotations

from services.waf.engine.matcher import LiteralSetMatcher, PatternCompileError
from services.waf.operators.base import CompileContext, Operator, OperatorContext, register


class Pm(Operator):
    name = "pm"

    def __init__(self, matcher: LiteralSetMatcher) -> None:
        self.matcher = matcher

    def evaluate(self, ctx: OperatorContext, value: str, capture: bool) -> bool:
        phrase = self.matcher.first(value.encode("latin-1"))
        if phrase is None:
            return False
        if capture:
            ctx.set_captures([phrase])
        return True

    def evaluate_many(self, ctx: OperatorContext, values: list[str], capture: bool) -> list[bool]:
        phrases = self.matcher.first_many([v.encode("latin-1") for v in values])
        if capture:
            for phrase in phrases:
                if phrase is not None:
                    ctx.set_captures([phrase])
        return [p is not None for p in phrases]


@register("pm")
def make_pm(argument: str, ctx: CompileContext) -> Operator:
    phrases = tuple(dict.fromkeys(argument.split()))
    if not phrases:
        raise ValueError("@pm needs at least one phrase")
    try:
        return Pm(ctx.matchers.literals(phrases))
    except PatternCompileError as exc:
        raise ValueError(f"@pm phrases do not compile: {exc}") from exc
