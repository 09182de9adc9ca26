"""initcol, setsid, setuid: open a persistent collection record for this transaction.

Example (CRS 901321): ``initcol:global=global,initcol:ip=%{remote_addr}_%{tx.ua_hash}``;
``setsid:%{REQUEST_COOKIES.PHPSESSID}`` opens SESSION and ``setuid:%{ARGS.user}`` opens USER, as in
ModSecurity. The key is macro-expanded when the rule matches; records live in the RuleSet's
in-memory store (:mod:`services.waf.variables.persistent`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.waf.actions.base import Fail, RuleDraft, RuntimeAction, register
from services.waf.variables.macros import MacroError, MacroString, parse_macros
from services.waf.variables.persistent import PERSISTENT

if TYPE_CHECKING:
    from services.waf.engine.context import RuleContext
    from services.waf.engine.rule import Rule


class InitCol(RuntimeAction):
    name = "initcol"

    def __init__(self, collection: str, key: MacroString) -> None:
        self.collection = collection
        self.key = key

    def execute(self, ctx: RuleContext, rule: Rule) -> None:
        ctx.init_collection(self.collection, self.key.expand(ctx.state, rule))


def _key(text: str, fail: Fail) -> MacroString:
    try:
        return parse_macros(text)
    except MacroError as exc:
        raise fail(str(exc)) from exc


@register("initcol", value="required")
def _initcol(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    collection, eq, key = value.partition("=")
    name = collection.strip().upper()
    if not eq or not key.strip():
        raise fail(f"initcol needs collection=key, got {value!r}; e.g. initcol:ip=%{{remote_addr}}")
    if name not in PERSISTENT:
        raise fail(f"initcol collection {collection.strip()!r} is not supported; expected one of {', '.join(PERSISTENT)}")
    draft.runtime.append(InitCol(name, _key(key.strip(), fail)))


@register("setsid", value="required")
def _setsid(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    draft.runtime.append(InitCol("SESSION", _key(value.strip(), fail)))


@register("setuid", value="required")
def _setuid(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    draft.runtime.append(InitCol("USER", _key(value.strip(), fail)))
