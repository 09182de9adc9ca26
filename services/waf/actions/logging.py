"""Logging actions: log, nolog, auditlog, noauditlog.

Example: ``"id:1000010,phase:1,pass,nolog,setvar:tx.checked=1"`` keeps a bookkeeping rule out of
the alert stream. As in ModSecurity the default is to log; ``nolog`` also implies ``noauditlog``
unless ``auditlog`` is given explicitly. Only the chain starter's setting counts; ModSecurity
accepts (and CRS writes) them on chained links too, so they are allowed there and have no effect.
"""

from __future__ import annotations

from services.waf.actions.base import Fail, RuleDraft, register


@register("log", value="forbidden")
def _log(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    draft.log = True


@register("nolog", value="forbidden")
def _nolog(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    draft.log = False


@register("auditlog", value="forbidden")
def _auditlog(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    draft.auditlog = True


@register("noauditlog", value="forbidden")
def _noauditlog(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    draft.auditlog = False
