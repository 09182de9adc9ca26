"""Shared shape of the string comparison operators (argument may contain macros)."""

from __future__ import annotations

from collections.abc import Callable

from services.waf.operators.base import Operator, OperatorContext
from services.waf.variables.macros import MacroString


class StringOperator(Operator):
    def __init__(self, name: str, argument: MacroString, test: Callable[[str, str], bool]) -> None:
        self.name = name
        self.argument = argument
        self.test = test

    def evaluate(self, ctx: OperatorContext, value: str, capture: bool) -> bool:
        argument = self.argument.expand(ctx.state)
        if not self.test(value, argument):
            return False
        if capture:
            ctx.set_captures([argument])
        return True
