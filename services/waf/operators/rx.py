"""@rx -- PCRE regular expression match, on the Hyperscan matching core.

Example: ``SecRule ARGS "@rx (?i)\\bunion\\b.{1,100}?\\bselect\\b" "id:1000100,phase:2,deny"``.
Compiled once at load with ModSecurity v3's flags (DOTALL, MULTILINE; case-sensitive unless the
pattern says ``(?i)``). With ``capture``, TX:0 is the whole match and TX:1..TX:9 the groups; the
groups come from Python ``re`` because Hyperscan reports no submatches, and only rules that
capture pay for it. An argument with macros (``@rx %{tx.allowed}``) is expanded per request and
compiled through a cache.
"""

from __future__ import annotations

from services.waf.engine.matcher import PatternCompileError, RegexMatcher, python_regex, regex_groups
from services.waf.operators.base import (
    CompileContext,
    Operator,
    OperatorContext,
    macro_argument,
    register,
)
from services.waf.variables.macros import MacroString


class Rx(Operator):
    name = "rx"

    def __init__(self, matcher: RegexMatcher) -> None:
        self.matcher = matcher

    def evaluate(self, ctx: OperatorContext, value: str, capture: bool) -> bool:
        if not self.matcher.search(value.encode("latin-1")):
            return False
        if capture:
            groups = self.matcher.groups(value)
            if groups is not None:
                ctx.set_captures(groups)
        return True

    def evaluate_many(self, ctx: OperatorContext, values: list[str], capture: bool) -> list[bool]:
        results = self.matcher.search_many([v.encode("latin-1") for v in values])
        if capture:
            for value, hit in zip(values, results):
                if hit and (groups := self.matcher.groups(value)) is not None:
                    ctx.set_captures(groups)
        return results


class DynamicRx(Operator):
    name = "rx"

    def __init__(self, pattern: MacroString) -> None:
        self.pattern = pattern

    def evaluate(self, ctx: OperatorContext, value: str, capture: bool) -> bool:
        try:
            regex = python_regex(self.pattern.expand(ctx.state))
        except Exception as exc:  # re.error and friends: the expanded text is not a regex
            raise ValueError(f"@rx pattern after macro expansion does not compile: {exc}") from exc
        groups = regex_groups(regex, value)
        if groups is None:
            return False
        if capture:
            ctx.set_captures(groups)
        return True


@register("rx")
def make_rx(argument: str, ctx: CompileContext) -> Operator:
    macro = macro_argument(argument)
    if not macro.constant:
        return DynamicRx(macro)
    try:
        return Rx(ctx.matchers.regex(argument))
    except PatternCompileError as exc:
        raise ValueError(f"@rx pattern does not compile: {exc}") from exc
