"""expirevar: accepted for compatibility; TX lives only for one transaction, so it has no effect.

Example: ``expirevar:ip.block=600``. In ModSecurity it sets a timeout on a persistent collection
variable; this engine has no persistent collections yet, so the action is validated and recorded
on the transaction (``Transaction.ctl_log``) instead of being silently dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.waf.actions.base import Fail, RuleDraft, RuntimeAction, register

if TYPE_CHECKING:
    from services.waf.engine.context import RuleContext
    from services.waf.engine.rule import Rule


class ExpireVar(RuntimeAction):
    name = "expirevar"

    def __init__(self, value: str) -> None:
        self.value = value

    def execute(self, ctx: RuleContext, rule: Rule) -> None:
        ctx.apply_ctl("expirevar", self.value, None)


@register("expirevar", value="required")
def _expirevar(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    target, eq, seconds = value.partition("=")
    if "." not in target or not eq or not seconds.strip().isdigit():
        raise fail(f"expirevar needs collection.name=seconds, got {value!r}")
    draft.runtime.append(ExpireVar(value))
