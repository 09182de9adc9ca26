"""The operator table: ``@name`` -> a factory that compiles the argument once, at load.

An operator object is immutable and shared by every transaction; ``evaluate`` gets the
transaction context (for macros and captures) and the transformed value (a latin-1 byte string).
Factories raise ``ValueError`` with a message; the parser adds file:line:column.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from services.waf.engine.matcher import MatcherFactory
from services.waf.variables.base import RequestState
from services.waf.variables.macros import MacroString, parse_macros


class OperatorContext(Protocol):
    """What an operator may touch in the running transaction."""

    state: RequestState

    def set_captures(self, groups: list[str]) -> None: ...


class Operator(ABC):
    name: str = ""

    @abstractmethod
    def evaluate(self, ctx: OperatorContext, value: str, capture: bool) -> bool:
        """True when the operator matches ``value`` (before any ``!`` negation)."""

    def evaluate_many(self, ctx: OperatorContext, values: list[str], capture: bool) -> list[bool]:
        """``evaluate`` on every value of a rule, in order (captures end up from the last match).

        Operators backed by a compiled database override this to scan all values in one call,
        which removes most of the per-value Python overhead on the hot path.
        """
        return [self.evaluate(ctx, value, capture) for value in values]


@dataclass(frozen=True, slots=True)
class CompileContext:
    matchers: MatcherFactory
    notices: list[str]
    location: str
    base_dir: Path | None = None  # folder of the rule file: @pmFromFile/@ipMatchFromFile paths are relative to it

    def data_path(self, name: str) -> Path:
        """A data file named by a rule, resolved as ModSecurity does (relative to the rule file)."""
        path = Path(name)
        if not path.is_absolute():
            path = (self.base_dir or Path.cwd()) / path
        return path


Factory = Callable[[str, CompileContext], Operator]


@dataclass(frozen=True, slots=True)
class OperatorDef:
    name: str
    factory: Factory
    needs_argument: bool


OPERATORS: dict[str, OperatorDef] = {}


def register(name: str, *, needs_argument: bool = True) -> Callable[[Factory], Factory]:
    def deco(factory: Factory) -> Factory:
        key = name.lower()
        if key in OPERATORS:
            raise RuntimeError(f"operator @{name} registered twice")
        OPERATORS[key] = OperatorDef(name=name, factory=factory, needs_argument=needs_argument)
        return factory

    return deco


def macro_argument(argument: str) -> MacroString:
    try:
        return parse_macros(argument)
    except ValueError as exc:
        raise ValueError(str(exc)) from exc


def c_atoi(text: str) -> int:
    """C ``atoi``: optional blanks and sign then digits; anything else reads as 0 (ModSecurity
    compares numbers this way, so ``@gt 5`` against ``"abc"`` compares 0 with 5)."""
    if text.isdigit() and text.isascii():  # the usual case (TX counters, paranoia levels)
        return int(text)
    s = text.lstrip(" \t\n\v\f\r")
    i = 0
    if s[:1] in ("+", "-"):
        i = 1
    j = i
    while j < len(s) and "0" <= s[j] <= "9":
        j += 1
    if j == i:
        return 0
    return int(s[:j])
