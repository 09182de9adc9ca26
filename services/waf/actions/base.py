"""The action table and the mutable draft a rule's action list is applied to at load.

Each family module registers its actions with :func:`register`. An action's ``apply`` receives the
draft, its value (``None`` when written without ``:value``) and a ``fail(message)`` callback that
builds a SecLangParseError pointing at the value. The draft is frozen into an immutable rule by
the parser once the whole rule (and its chain) is read.

``starter_only`` marks what ModSecurity allows only on the first rule of a chain: id, phase,
metadata, disruptive actions and skipAfter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from services.waf.variables.macros import MacroString

if TYPE_CHECKING:
    from services.waf.engine.context import RuleContext
    from services.waf.engine.rule import Rule

Fail = Callable[[str], Exception]
ValueRule = Literal["required", "forbidden", "optional"]


class RuntimeAction(ABC):
    """A non-disruptive action executed when the rule matches (setvar, ctl, ...)."""

    name: str = ""

    @abstractmethod
    def execute(self, ctx: RuleContext, rule: Rule) -> None: ...


@dataclass(slots=True)
class RuleDraft:
    id: int | None = None
    phase: int | None = None
    msg: MacroString | None = None
    logdata: MacroString | None = None
    severity: int | None = None
    tags: list[str] = field(default_factory=list)
    ver: str | None = None
    rev: str | None = None
    maturity: int | None = None
    accuracy: int | None = None
    disruptive: str | None = None  # deny drop pass allow block redirect
    allow_scope: str | None = None  # None (whole transaction), "phase", "request"
    redirect_url: MacroString | None = None
    status: int | None = None
    log: bool | None = None
    auditlog: bool | None = None
    chain: bool = False
    capture: bool = False
    multi_match: bool = False
    transforms: list[str] = field(default_factory=list)
    transforms_reset: bool = False  # t:none seen: drop inherited SecDefaultAction transformations
    runtime: list[RuntimeAction] = field(default_factory=list)
    skip_after: str | None = None
    skip: int = 0
    seen: set[str] = field(default_factory=set)


Apply = Callable[[RuleDraft, str | None, Fail], None]


@dataclass(frozen=True, slots=True)
class ActionDef:
    name: str
    apply: Apply
    value: ValueRule
    starter_only: bool
    default_allowed: bool  # may appear in SecDefaultAction


ACTIONS: dict[str, ActionDef] = {}


def register(
    name: str,
    *,
    value: ValueRule,
    starter_only: bool = False,
    default_allowed: bool = True,
) -> Callable[[Apply], Apply]:
    def deco(apply: Apply) -> Apply:
        key = name.lower()
        if key in ACTIONS:
            raise RuntimeError(f"action {name} registered twice")
        ACTIONS[key] = ActionDef(name, apply, value, starter_only, default_allowed)
        return apply

    return deco


def parse_int(value: str, fail: Fail, what: str, low: int | None = None, high: int | None = None) -> int:
    text = value.strip()
    if not text.lstrip("-").isdigit():
        raise fail(f"{what} must be an integer, got {value!r}")
    number = int(text)
    if (low is not None and number < low) or (high is not None and number > high):
        raise fail(f"{what} must be between {low} and {high}, got {number}")
    return number
