"""Parsing a rule's operator argument: ``"@rx ^\\d+$"``, ``"!@within GET POST"``, ``"foo"``.

As in ModSecurity, a leading ``!`` negates, ``@name`` picks the operator (case-insensitively) and
the rest after the blanks is its argument; with no ``@`` the whole text is an implicit @rx.

Operators compare bytes (see :mod:`services.waf.variables.base`), so the argument is converted to
the same byte-string form: a rule file written in UTF-8 that says ``@rx café`` matches the UTF-8
bytes ``caf\xc3\xa9`` of a request, as ModSecurity (which reads rule files as bytes) does.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.waf.operators import OPERATORS, CompileContext, Operator
from services.waf.seclang.source import Token
from services.waf.variables.base import wire


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    name: str
    argument: str
    negated: bool
    operator: Operator


def parse_operator(token: Token, ctx: CompileContext) -> OperatorSpec:
    text = token.text
    i = 0
    negated = text.startswith("!")
    if negated:
        i = 1
    if text[i : i + 1] != "@":
        name, argument, arg_at = "rx", text[i:], i
        if not argument:
            raise token.error(i, "expected an operator such as @rx, or a regular expression")
    else:
        j = i + 1
        while j < len(text) and not text[j].isspace():
            j += 1
        written = text[i + 1 : j]
        definition = OPERATORS.get(written.lower())
        if definition is None:
            known = ", ".join("@" + d.name for d in OPERATORS.values())
            raise token.error(i, f"unknown operator '@{written}'; expected one of {known}")
        name = definition.name
        k = j
        while k < len(text) and text[k].isspace():
            k += 1
        argument, arg_at = text[k:], k
        if definition.needs_argument and not argument:
            raise token.error(j, f"@{name} needs an argument")
    definition = OPERATORS[name.lower()]
    try:
        operator = definition.factory(wire(argument), ctx)
    except ValueError as exc:
        raise token.error(arg_at, str(exc)) from exc
    return OperatorSpec(name=name, argument=argument, negated=negated, operator=operator)
