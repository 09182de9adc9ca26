"""Shared shape of @eq, @ge, @gt, @le, @lt: both sides read as C ``atoi`` integers."""

from __future__ import annotations

from collections.abc import Callable

from services.waf.operators.base import Operator, OperatorContext, c_atoi
from services.waf.variables.macros import MacroString


class NumericOperator(Operator):
    def __init__(self, name: str, argument: MacroString, test: Callable[[int, int], bool]) -> None:
        self.name = name
        self.argument = argument
        self.test = test
        # CRS compares against constants hundreds of times per request (TX:EXECUTING_PARANOIA_LEVEL
        # "@lt 2"): convert those once.
        self.constant = c_atoi(argument.text) if argument.constant else None

    def evaluate(self, ctx: OperatorContext, value: str, capture: bool) -> bool:
        operand = self.constant if self.constant is not None else c_atoi(self.argument.expand(ctx.state))
        return self.test(c_atoi(value), operand)
