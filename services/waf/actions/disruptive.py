"""Disruptive actions: deny, drop, block, pass, allow, redirect, and status.

Example: ``"id:1000100,phase:2,deny,status:403"``. ``block`` means "whatever SecDefaultAction of
this phase says" (deny in our packs, pass in CRS's anomaly mode), resolved at load as in
ModSecurity. ``allow`` stops inspection for the transaction, ``allow:phase`` for the current phase
and ``allow:request`` for the remaining request phases. Under ``SecRuleEngine DetectionOnly``
disruptive actions are recorded but not enforced.
"""

from __future__ import annotations

from services.waf.actions.base import Fail, RuleDraft, parse_int, register
from services.waf.variables.macros import MacroError, parse_macros


def _set(draft: RuleDraft, name: str, fail: Fail) -> None:
    draft.disruptive = name


@register("deny", value="forbidden", starter_only=True)
def _deny(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    _set(draft, "deny", fail)


@register("drop", value="forbidden", starter_only=True)
def _drop(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    _set(draft, "drop", fail)


@register("block", value="forbidden", starter_only=True, default_allowed=False)
def _block(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    _set(draft, "block", fail)


@register("pass", value="forbidden", starter_only=True)
def _pass(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    _set(draft, "pass", fail)


@register("allow", value="optional", starter_only=True)
def _allow(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    scope = None if value is None else value.strip().lower()
    if scope not in (None, "phase", "request"):
        raise fail(f"invalid allow scope {value!r}; expected allow, allow:phase or allow:request")
    _set(draft, "allow", fail)
    draft.allow_scope = scope


@register("redirect", value="required", starter_only=True)
def _redirect(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    try:
        draft.redirect_url = parse_macros(value)
    except MacroError as exc:
        raise fail(str(exc)) from exc
    _set(draft, "redirect", fail)


@register("status", value="required", starter_only=True)
def _status(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    draft.status = parse_int(value, fail, "status", 100, 599)
