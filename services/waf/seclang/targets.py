"""Parsing a rule's variable list: ``ARGS|!ARGS:foo|&ARGS|REQUEST_HEADERS:/^x-/``.

Elements are separated by ``|``; ``!`` excludes keys from the same collection elsewhere in the
list, ``&`` counts; a selector is a key (matched case-insensitively, as ModSecurity does for
arguments and headers), a ``/regex/`` (case-insensitive, ``|`` allowed inside) or a quoted key.
"""

from __future__ import annotations

import re

from services.waf.engine.rule import Selector, Target
from services.waf.seclang.source import Token
from services.waf.variables import VARIABLES


def _selector(token: Token, start: int, text: str, expression: bool = False) -> Selector:
    if expression:
        return Selector(key=text, text=text)
    if text.startswith("/") and text.endswith("/") and len(text) >= 2:
        try:
            return Selector(regex=re.compile(text[1:-1], re.IGNORECASE | re.DOTALL), text=text)
        except re.error as exc:
            raise token.error(start + 1 + (exc.pos or 0), f"invalid selector regex: {exc.msg}") from exc
    return Selector(key=text.lower(), text=text)


def parse_targets(token: Token) -> tuple[Target, ...]:
    targets, _ = parse_target_list(token, allow_only_exclusions=False)
    return targets


def parse_target_list(
    token: Token, *, allow_only_exclusions: bool
) -> tuple[tuple[Target, ...], dict[str, list[Selector]]]:
    """Targets and the ``!VAR:key`` exclusions of a list (SecRuleUpdateTarget* may hold only
    exclusions, which then apply to the rule's existing targets)."""
    text, n = token.text, len(token.text)
    raw: list[tuple[str, str, Selector | None, int, str]] = []  # prefix, name, selector, pos, text
    i = 0
    while True:
        while i < n and text[i].isspace():
            i += 1
        start = i
        prefix = ""
        if i < n and text[i] in "!&":
            prefix = text[i]
            i += 1
        name_start = i
        while i < n and (text[i].isalnum() or text[i] == "_"):
            i += 1
        name = text[name_start:i].upper()
        if not name:
            found = repr(text[i]) if i < n else "the end"
            raise token.error(i, f"expected a variable name such as ARGS or REQUEST_URI, found {found}")
        if name not in VARIABLES:
            raise token.error(
                name_start,
                f"unknown variable {text[name_start:i]!r}; expected one of {', '.join(sorted(VARIABLES))}",
            )
        selector: Selector | None = None
        if i < n and text[i] == ":":
            i += 1
            sel_start = i
            if VARIABLES[name].select is not None:
                while i < n and text[i] != "|" and not text[i].isspace():
                    i += 1
                sel_text = text[sel_start:i]
            elif i < n and text[i] == "/":
                i += 1
                while i < n and not (text[i] == "/" and text[i - 1] != "\\"):
                    i += 1
                if i >= n:
                    raise token.error(sel_start, "unterminated selector regex; expected a closing /")
                i += 1
                sel_text = text[sel_start:i]
            elif i < n and text[i] == "'":
                i += 1
                while i < n and text[i] != "'":
                    i += 1
                if i >= n:
                    raise token.error(sel_start, "unterminated quoted selector; expected a closing '")
                i += 1
                sel_text = text[sel_start + 1 : i - 1]
            else:
                while i < n and text[i] != "|" and not text[i].isspace():
                    i += 1
                sel_text = text[sel_start:i]
            if not sel_text:
                raise token.error(sel_start, f"expected a selector after '{name}:'")
            if not VARIABLES[name].collection:
                raise token.error(sel_start - 1, f"{name} is not a collection and takes no selector")
            selector = _selector(token, sel_start, sel_text, VARIABLES[name].select is not None)
        if prefix == "!" and selector is None:
            raise token.error(start, f"an exclusion needs a selector, e.g. !{name}:name")
        raw.append((prefix, name, selector, start, text[start:i].lstrip("!&")))
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        if text[i] != "|":
            raise token.error(i, f"expected '|' between variables, found {text[i]!r}")
        i += 1
    exclusions: dict[str, list[Selector]] = {}
    for prefix, name, selector, _, _ in raw:
        if prefix == "!" and selector is not None:
            exclusions.setdefault(name, []).append(selector)
    targets = [
        Target(
            variable=VARIABLES[name],
            selector=selector,
            count=prefix == "&",
            exclusions=tuple(exclusions.get(name, ())),
            text=written,
        )
        for prefix, name, selector, _, written in raw
        if prefix != "!"
    ]
    if not targets and not allow_only_exclusions:
        raise token.error(0, "the variable list has only exclusions; expected at least one variable")
    return tuple(targets), exclusions
