"""setvar: write the TX collection when a rule matches.

Examples: ``setvar:tx.sqli_score=+5``, ``setvar:'tx.anomaly_score=+%{tx.critical_anomaly_score}'``,
``setvar:tx.checked`` (sets ``1``), ``setvar:!tx.checked`` (deletes), ``setvar:tx.x=-1``.
ModSecurity's arithmetic forms are ``=+`` and ``=-``; both sides are read as C ``atoi`` integers
and an unset variable counts as 0. Names and values may hold macros, expanded at match time;
names are case-insensitive. Besides TX, the persistent collections (IP, GLOBAL, SESSION, USER,
RESOURCE; see :mod:`services.waf.variables.persistent`) can be written once ``initcol`` opened
them; writing one that is not open is recorded in the transaction's errors, as ModSecurity logs
"collection not found", and the other actions of the rule still run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.waf.actions.base import Fail, RuleDraft, RuntimeAction, register
from services.waf.operators.base import c_atoi
from services.waf.variables.persistent import PERSISTENT
from services.waf.variables.macros import MacroError, MacroString, parse_macros

if TYPE_CHECKING:
    from services.waf.engine.context import RuleContext
    from services.waf.engine.rule import Rule


class SetVar(RuntimeAction):
    name = "setvar"

    def __init__(self, key: MacroString, op: str, value: MacroString | None, collection: str = "TX") -> None:
        self.collection = collection
        self.key = key
        self.op = op  # set add sub delete one
        self.value = value
        # CRS's setup rules run ~60 setvars with constant names and values on every request:
        # resolve those at load (a constant MacroString expands to the join of its parts)
        self._name = "".join(key.parts) if key.constant else None  # type: ignore[arg-type]
        self._key = self._name.lower() if self._name is not None else None
        self._value = "".join(value.parts) if value is not None and value.constant else None  # type: ignore[arg-type]

    def execute(self, ctx: RuleContext, rule: Rule) -> None:
        state = ctx.state
        name = self._name if self._name is not None else self.key.expand(state, rule)
        if self.collection != "TX":
            self._persistent(ctx, rule, name)
            return
        key = self._key if self._key is not None else name.lower()
        if self.op == "delete":
            state.tx.pop(key, None)
            state.tx_names.pop(key, None)
            return
        if self.op == "one":
            new = "1"
        else:
            assert self.value is not None
            operand = self._value if self._value is not None else self.value.expand(state, rule)
            if self.op == "set":
                new = operand
            elif self.op == "add":
                new = str(c_atoi(state.tx.get(key, "0")) + c_atoi(operand))
            else:
                new = str(c_atoi(state.tx.get(key, "0")) - c_atoi(operand))
        state.tx[key] = new
        state.tx_names.setdefault(key, name)


    def _persistent(self, ctx: RuleContext, rule: Rule, name: str) -> None:
        state = ctx.state
        record = state.collections.get(self.collection)
        if record is None:
            ctx.errors.append(
                f"rule {rule.id}: setvar:{self.collection.lower()}.{name}: collection {self.collection}"
                " is not initialised (no initcol ran for it)"
            )
            return
        if self.op == "delete":
            record.delete(name)
            return
        if self.op == "one":
            record.set(name, "1")
            return
        assert self.value is not None
        operand = self.value.expand(state, rule)
        if self.op == "set":
            record.set(name, operand)
        else:
            current = c_atoi(record.get(name) or "0")
            delta = c_atoi(operand)
            record.set(name, str(current + delta if self.op == "add" else current - delta))


def _macro(text: str, fail: Fail) -> MacroString:
    try:
        return parse_macros(text)
    except MacroError as exc:
        raise fail(str(exc)) from exc


@register("setvar", value="required")
def _setvar(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    text = value.strip()
    delete = text.startswith("!")
    if delete:
        text = text[1:]
    target, eq, operand = text.partition("=")
    if eq and target.rstrip()[-1:] in ("+", "-"):
        sign = target.rstrip()[-1]
        raise fail(
            f"setvar:{value} is not SecLang arithmetic; expected {target.rstrip()[:-1]}={sign}{operand}"
            f" (ModSecurity writes the sign after '=')"
        )
    collection, dot, key = target.partition(".")
    if not dot or not key.strip():
        raise fail(f"setvar needs collection.name, got {value!r}; expected e.g. tx.score=+5")
    collection_name = collection.strip().upper()
    if collection_name != "TX" and collection_name not in PERSISTENT:
        raise fail(
            f"setvar collection {collection.strip()!r} is not supported; expected tx or one of"
            f" {', '.join(c.lower() for c in PERSISTENT)}"
        )
    key_macro = _macro(key.strip(), fail)
    if delete:
        if eq:
            raise fail("setvar:!tx.name deletes a variable and takes no value")
        draft.runtime.append(SetVar(key_macro, "delete", None, collection_name))
    elif not eq:
        draft.runtime.append(SetVar(key_macro, "one", None, collection_name))
    elif operand.startswith("+"):
        draft.runtime.append(SetVar(key_macro, "add", _macro(operand[1:], fail), collection_name))
    elif operand.startswith("-"):
        draft.runtime.append(SetVar(key_macro, "sub", _macro(operand[1:], fail), collection_name))
    else:
        draft.runtime.append(SetVar(key_macro, "set", _macro(operand, fail), collection_name))
