"""The transformation table: ``t:name`` -> a pure function on a byte string (latin-1 ``str``).

Transformations run in the order written, on a copy of the variable's value, before the operator;
``t:none`` (handled by the action parser) drops every transformation before it, including those
inherited from SecDefaultAction. Names are looked up case-insensitively, as ModSecurity's lexer
does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Transform = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class TransformationDef:
    name: str
    func: Transform


TRANSFORMATIONS: dict[str, TransformationDef] = {}

# C-locale isspace() plus NBSP (0xa0), the set ModSecurity's whitespace transformations use.
C_SPACE = " \t\n\v\f\r"
NBSP = "\xa0"


def register(name: str) -> Callable[[Transform], Transform]:
    def deco(func: Transform) -> Transform:
        key = name.lower()
        if key in TRANSFORMATIONS:
            raise RuntimeError(f"transformation {name} registered twice")
        TRANSFORMATIONS[key] = TransformationDef(name=name, func=func)
        return func

    return deco


def lookup(name: str) -> TransformationDef | None:
    return TRANSFORMATIONS.get(name.lower())
