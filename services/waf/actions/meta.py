"""Metadata actions: id, msg, logdata, severity, tag, ver, rev, maturity, accuracy.

Example: ``"id:1000100,msg:'SQL injection: UNION SELECT',severity:CRITICAL,tag:'attack-sqli'"``.
They describe the alert and never change what the rule matches. ``msg`` and ``logdata`` may hold
macros (``logdata:'Matched %{MATCHED_VAR_NAME}'``), expanded when the rule matches. Severity takes
the syslog names ModSecurity accepts or 0..7 (0 = EMERGENCY).
"""

from __future__ import annotations

from services.waf.actions.base import Fail, RuleDraft, parse_int, register
from services.waf.variables.macros import MacroError, parse_macros

SEVERITIES = {
    "EMERGENCY": 0,
    "ALERT": 1,
    "CRITICAL": 2,
    "ERROR": 3,
    "WARNING": 4,
    "NOTICE": 5,
    "INFO": 6,
    "DEBUG": 7,
}


@register("id", value="required", starter_only=True, default_allowed=False)
def _id(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    draft.id = parse_int(value, fail, "id", 1, 2**31 - 1)


def _macro(value: str, fail: Fail):  # type: ignore[no-untyped-def]
    try:
        return parse_macros(value)
    except MacroError as exc:
        raise fail(str(exc)) from exc


@register("msg", value="required", starter_only=True, default_allowed=False)
def _msg(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    draft.msg = _macro(value, fail)


@register("logdata", value="required", starter_only=True, default_allowed=False)
def _logdata(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    draft.logdata = _macro(value, fail)


@register("severity", value="required", starter_only=True, default_allowed=False)
def _severity(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    name = value.strip().upper()
    if name in SEVERITIES:
        draft.severity = SEVERITIES[name]
    elif name.isdigit() and 0 <= int(name) <= 7:
        draft.severity = int(name)
    else:
        raise fail(
            f"unknown severity {value!r}; expected 0-7 or one of {', '.join(SEVERITIES)}"
        )


@register("tag", value="required", starter_only=True, default_allowed=False)
def _tag(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    draft.tags.append(value)


@register("ver", value="required", starter_only=True, default_allowed=False)
def _ver(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    draft.ver = value


@register("rev", value="required", starter_only=True, default_allowed=False)
def _rev(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    draft.rev = value


@register("maturity", value="required", starter_only=True, default_allowed=False)
def _maturity(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    draft.maturity = parse_int(value, fail, "maturity", 1, 9)


@register("accuracy", value="required", starter_only=True, default_allowed=False)
def _accuracy(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    draft.accuracy = parse_int(value, fail, "accuracy", 1, 9)
