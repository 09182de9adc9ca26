"""expirevar: give a persistent collection variable a lifetime, in seconds from now.

Example (CRS 912 DoS protection): ``setvar:ip.dos_block=1,expirevar:ip.dos_block=600``. The
variable disappears from the record once the time has passed (see
:mod:`services.waf.variables.persistent`). TX lives for one transaction only, so ``expirevar`` on
``tx.`` has nothing to do and is recorded in ``Transaction.ctl_log`` rather than silently dropped;
a persistent collection that no ``initcol`` opened is an error recorded for the transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.waf.actions.base import Fail, RuleDraft, RuntimeAction, register
from services.waf.variables.macros import MacroError, MacroString, parse_macros
from services.waf.variables.persistent import PERSISTENT

if TYPE_CHECKING:
    from services.waf.engine.context import RuleContext
    from services.waf.engine.rule import Rule


class ExpireVar(RuntimeAction):
    name = "expirevar"

    def __init__(self, collection: str, key: MacroString, seconds: MacroString, text: str) -> None:
        self.collection = collection
        self.key = key
        self.seconds = seconds
        self.text = text

    def execute(self, ctx: RuleContext, rule: Rule) -> None:
        if self.collection == "TX":
            ctx.apply_ctl("expirevar", self.text, None)
            return
        record = ctx.state.collections.get(self.collection)
        name = self.key.expand(ctx.state, rule)
        if record is None:
            ctx.errors.append(
                f"rule {rule.id}: expirevar:{self.collection.lower()}.{name}: collection {self.collection}"
                " is not initialised (no initcol ran for it)"
            )
            return
        seconds = self.seconds.expand(ctx.state, rule).strip()
        if not seconds.isdigit():
            ctx.errors.append(f"rule {rule.id}: expirevar:{self.text}: {seconds!r} is not a number of seconds")
            return
        record.expire(name, int(seconds))


@register("expirevar", value="required")
def _expirevar(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    target, eq, seconds = value.partition("=")
    collection, dot, key = target.strip().partition(".")
    if not dot or not key or not eq or not seconds.strip():
        raise fail(f"expirevar needs collection.name=seconds, got {value!r}")
    name = collection.upper()
    if name != "TX" and name not in PERSISTENT:
        raise fail(f"expirevar collection {collection!r} is not supported; expected tx or one of {', '.join(PERSISTENT)}")
    try:
        key_macro, seconds_macro = parse_macros(key), parse_macros(seconds.strip())
    except MacroError as exc:
        raise fail(str(exc)) from exc
    if seconds_macro.constant and not seconds.strip().isdigit():
        raise fail(f"expirevar needs a whole number of seconds, got {seconds.strip()!r}")
    draft.runtime.append(ExpireVar(name, key_macro, seconds_macro, value))
