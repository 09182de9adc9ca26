"""ctl: change the transaction's configuration from a rule.

Example: ``SecRule REQUEST_FILENAME "@beginsWith /api/upload" "id:1000001,phase:1,pass,nolog,
ctl:ruleRemoveById=1000120"``. Enforced: ``ruleEngine`` (On/Off/DetectionOnly),
``ruleRemoveById`` (ids and ``a-b`` ranges), ``ruleRemoveByTag``, ``requestBodyAccess``,
``requestBodyProcessor`` (URLENCODED/JSON). Accepted and recorded on the transaction (so they are
visible in tests and logs, never silently dropped) but not enforced yet: the audit-log and
debug-log options and the ``ruleRemoveTarget*`` family.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.waf.actions.base import Fail, RuleDraft, RuntimeAction, register

if TYPE_CHECKING:
    from services.waf.engine.context import RuleContext
    from services.waf.engine.rule import Rule

ENFORCED = ("ruleEngine", "ruleRemoveById", "ruleRemoveByTag", "requestBodyAccess", "requestBodyProcessor")
RECORDED = (
    "auditEngine",
    "auditLogParts",
    "debugLogLevel",
    "forceRequestBodyVariable",
    "hashEngine",
    "hashEnforcement",
    "requestBodyLimit",
    "ruleRemoveTargetById",
    "ruleRemoveTargetByTag",
    "ruleRemoveTargetByMsg",
    "ruleRemoveByMsg",
    "parseXmlIntoArgs",
)
_NAMES = {n.lower(): n for n in ENFORCED + RECORDED}


def parse_id_ranges(text: str, fail: Fail) -> tuple[tuple[int, int], ...]:
    ranges = []
    for piece in text.replace(",", " ").split():
        low, dash, high = piece.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise fail(f"invalid rule id or range {piece!r}; expected e.g. 1000100 or 1000100-1000199")
        ranges.append((int(low), int(high) if dash else int(low)))
    if not ranges:
        raise fail("ruleRemoveById needs at least one id")
    return tuple(ranges)


class Ctl(RuntimeAction):
    name = "ctl"

    def __init__(self, option: str, value: str, parsed: object) -> None:
        self.option = option
        self.value = value
        self.parsed = parsed

    def execute(self, ctx: RuleContext, rule: Rule) -> None:
        ctx.apply_ctl(self.option, self.value, self.parsed)


@register("ctl", value="required")
def _ctl(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    name, eq, arg = value.partition("=")
    option = _NAMES.get(name.strip().lower())
    if option is None or not eq:
        known = ", ".join(ENFORCED + RECORDED)
        raise fail(f"unknown ctl option {value!r}; expected option=value with one of {known}")
    arg = arg.strip()
    parsed: object = arg
    if option == "ruleEngine":
        modes = {"on": "On", "off": "Off", "detectiononly": "DetectionOnly"}
        if arg.lower() not in modes:
            raise fail(f"invalid ruleEngine {arg!r}; expected On, Off or DetectionOnly")
        parsed = modes[arg.lower()]
    elif option == "ruleRemoveById":
        parsed = parse_id_ranges(arg, fail)
    elif option == "requestBodyAccess":
        if arg.lower() not in ("on", "off"):
            raise fail(f"invalid requestBodyAccess {arg!r}; expected On or Off")
        parsed = arg.lower() == "on"
    elif option == "requestBodyProcessor":
        if arg.upper() not in ("URLENCODED", "JSON", "MULTIPART", "XML"):
            raise fail(f"invalid requestBodyProcessor {arg!r}; expected URLENCODED, JSON, MULTIPART or XML")
        parsed = arg.upper()
    draft.runtime.append(Ctl(option, arg, parsed))
