"""Macro expansion: ``%{tx.blocking_score}``, ``%{MATCHED_VAR}``, ``%{rule.id}``.

ModSecurity expands macros in ``setvar``, ``msg``, ``logdata`` and in the arguments of most
operators (``"@ge %{tx.inbound_anomaly_score_threshold}"``). The text is split once at load into
literal and reference parts; expansion only looks values up. A reference to something unset
expands to the empty string, as in ModSecurity. Collection references use ``.`` between the
collection and the key (``%{REQUEST_HEADERS.host}``), keys are case-insensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from services.waf.variables.base import VARIABLES, RequestState

_MACRO = re.compile(r"%\{([^}]*)\}")


class RuleInfo(Protocol):
    """What ``%{rule.*}`` can read."""

    def macro_field(self, name: str) -> str | None: ...


class MacroError(ValueError):
    """A macro names something that does not exist (message says what was expected)."""


@dataclass(frozen=True, slots=True)
class MacroRef:
    collection: str  # upper-case variable name, or "RULE"
    key: str | None  # lower-case key, or None for a scalar


@dataclass(frozen=True, slots=True)
class MacroString:
    parts: tuple[str | MacroRef, ...]
    text: str

    @property
    def constant(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    def expand(self, state: RequestState, rule: RuleInfo | None = None) -> str:
        if len(self.parts) == 1 and isinstance(self.parts[0], str):
            return self.parts[0]
        out: list[str] = []
        for part in self.parts:
            out.append(part if isinstance(part, str) else resolve(part, state, rule))
        return "".join(out)


def resolve(ref: MacroRef, state: RequestState, rule: RuleInfo | None) -> str:
    if ref.collection == "TX":
        return state.tx.get(ref.key or "", "")
    if ref.collection == "RULE":
        if rule is None or ref.key is None:
            return ""
        return rule.macro_field(ref.key) or ""
    var = VARIABLES[ref.collection]
    pairs = var.read(state)
    if ref.key is None:
        return pairs[0][1] if pairs else ""
    for key, value in pairs:
        if key.lower() == ref.key:
            return value
    return ""


def parse_macros(text: str) -> MacroString:
    """Split ``text`` into literals and references; raise MacroError on an unknown collection."""
    parts: list[str | MacroRef] = []
    pos = 0
    for match in _MACRO.finditer(text):
        if match.start() > pos:
            parts.append(text[pos : match.start()])
        name = match.group(1).strip()
        collection, dot, key = name.partition(".")
        collection = collection.upper()
        if collection != "RULE" and collection not in VARIABLES:
            raise MacroError(
                f"unknown variable {collection!r} in macro %{{{name}}}; expected TX, RULE or a"
                " variable name such as MATCHED_VAR or REQUEST_HEADERS"
            )
        parts.append(MacroRef(collection, key.lower() if dot else None))
        pos = match.end()
    if pos < len(text) or not parts:
        parts.append(text[pos:])
    return MacroString(tuple(parts), text)
