"""Compiled, immutable rules: what the transaction reads on the hot path.

A :class:`Rule` is one SecRule/SecAction after load: its targets resolved to variable readers,
its operator compiled (Hyperscan database built), its transformations resolved to functions and
its SecDefaultAction inheritance already applied. A chain is the starter rule with ``chained``
pointing at the next link. Nothing here is mutated after load, so one RuleSet serves every
request of every thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.waf.transformations import Transform
from services.waf.variables.base import RequestState, VariableDef
from services.waf.variables.macros import MacroString

if TYPE_CHECKING:
    from services.waf.actions.base import RuntimeAction
    from services.waf.operators.base import Operator


@dataclass(frozen=True, slots=True)
class Selector:
    """``:name`` (lower-cased; matched case-insensitively) or ``:/regex/`` on collection keys."""

    key: str | None = None
    regex: re.Pattern[str] | None = None
    text: str = ""  # as written (XPath selectors are case-sensitive)

    def matches(self, key: str) -> bool:
        if self.regex is not None:
            return self.regex.search(key) is not None
        return key.lower() == self.key


@dataclass(frozen=True, slots=True)
class Target:
    """One variable of a rule's target list, with its ``!`` exclusions folded in."""

    variable: VariableDef
    selector: Selector | None
    count: bool
    exclusions: tuple[Selector, ...]
    text: str  # as written, for logs

    def read(self, state: RequestState) -> list[tuple[str, str]]:
        """(MATCHED_VAR_NAME, value) pairs this target yields for the request."""
        variable = self.variable
        name = variable.name
        if variable.select is not None and self.selector is not None:
            pairs = variable.select(state, self.selector.text)
            if self.count:
                return [(f"{name}:{self.selector.text}", str(len(pairs)))]
            return [(f"{name}:{k}", v) for k, v in pairs]
        selector = self.selector
        if selector is not None and variable.lookup is not None and selector.regex is None and selector.key is not None:
            pairs = variable.lookup(state, selector.key)
            if self.exclusions:
                pairs = [(k, v) for k, v in pairs if not any(e.matches(k) for e in self.exclusions)]
            if self.count:
                return [(f"{name}:{self.text.split(':', 1)[1]}", str(len(pairs)))]
            return [(f"{name}:{k}", v) for k, v in pairs]
        pairs = variable.read(state)
        if variable.collection:
            if selector is not None:
                if selector.regex is not None:  # TX:/^header_name_/ scans the whole collection
                    search = selector.regex.search
                    pairs = [(k, v) for k, v in pairs if search(k) is not None]
                else:
                    pairs = [(k, v) for k, v in pairs if selector.matches(k)]
            if self.exclusions:
                pairs = [(k, v) for k, v in pairs if not any(e.matches(k) for e in self.exclusions)]
            if self.count:
                label = name if self.selector is None else f"{name}:{self.text.split(':', 1)[1]}"
                return [(label, str(len(pairs)))]
            return [(f"{name}:{k}", v) for k, v in pairs]
        if self.count:
            return [(name, str(len(pairs)))]
        return [(name, v) for _, v in pairs]


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    phase: int
    targets: tuple[Target, ...]
    operator: Operator
    operator_name: str
    operator_argument: str
    negated: bool
    transform_names: tuple[str, ...]
    transforms: tuple[Transform, ...]
    msg: MacroString | None
    logdata: MacroString | None
    severity: int | None
    tags: tuple[str, ...]
    ver: str | None
    rev: str | None
    maturity: int | None
    accuracy: int | None
    disruptive: str  # deny drop pass allow redirect
    allow_scope: str | None
    status: int | None
    redirect_url: MacroString | None
    log: bool
    auditlog: bool
    capture: bool
    multi_match: bool
    runtime: tuple[RuntimeAction, ...]
    skip_after: str | None
    chained: Rule | None
    location: str
    is_link: bool = False
    skip: int = 0  # skip:N -- rules (chains count once) to jump over after a match

    def macro_field(self, name: str) -> str | None:
        """``%{rule.<name>}`` as ModSecurity exposes it."""
        if name == "id":
            return str(self.id)
        if name == "msg":
            return self.msg.text if self.msg else None
        if name == "severity":
            return None if self.severity is None else str(self.severity)
        if name == "logdata":
            return self.logdata.text if self.logdata else None
        if name in ("ver", "rev"):
            return getattr(self, name)
        if name in ("maturity", "accuracy", "phase"):
            value = getattr(self, name)
            return None if value is None else str(value)
        return None

    def links(self) -> list[Rule]:
        out: list[Rule] = []
        rule: Rule | None = self
        while rule is not None:
            out.append(rule)
            rule = rule.chained
        return out


@dataclass(frozen=True, slots=True)
class Marker:
    """A SecMarker: a skipAfter target present in every phase (as ModSecurity v3 adds it)."""

    name: str
    location: str
