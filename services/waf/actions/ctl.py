"""ctl: change the transaction's configuration from a rule.

Example: ``SecRule REQUEST_FILENAME "@beginsWith /api/upload" "id:1000001,phase:1,pass,nolog,
ctl:ruleRemoveById=1000120"``. Enforced: ``ruleEngine`` (On/Off/DetectionOnly),
``ruleRemoveById`` (ids and ``a-b`` ranges), ``ruleRemoveByTag``, ``ruleRemoveByMsg``,
``ruleRemoveTargetById=ID[-ID];VAR[:key]`` and ``ruleRemoveTargetByTag|Msg=TEXT;VAR[:key]`` (the
variable is skipped for those rules in the rest of the transaction, as in ModSecurity),
``requestBodyAccess``, ``requestBodyProcessor`` (URLENCODED/MULTIPART/JSON/XML),
``requestBodyLimit``, ``auditEngine`` (``Transaction.audit_engine``, read by the proxy's alert
writer) and ``forceRequestBodyVariable`` (fills REQUEST_BODY when no body processor applies, as
ModSecurity v2; see :mod:`services.waf.engine.bodies`).
Recorded on the transaction only (never silently dropped): ``auditLogParts``, ``debugLogLevel``,
``hashEngine``, ``hashEnforcement``, ``parseXmlIntoArgs``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.waf.actions.base import Fail, RuleDraft, RuntimeAction, register

if TYPE_CHECKING:
    from services.waf.engine.context import RuleContext
    from services.waf.engine.rule import Rule

ENFORCED = (
    "ruleEngine",
    "ruleRemoveById",
    "ruleRemoveByTag",
    "ruleRemoveByMsg",
    "ruleRemoveTargetById",
    "ruleRemoveTargetByTag",
    "ruleRemoveTargetByMsg",
    "requestBodyAccess",
    "requestBodyProcessor",
    "requestBodyLimit",
    "auditEngine",
    "forceRequestBodyVariable",
)
RECORDED = ("auditLogParts", "debugLogLevel", "hashEngine", "hashEnforcement", "parseXmlIntoArgs")
AUDIT_ENGINE = {"on": "On", "off": "Off", "relevantonly": "RelevantOnly"}


@dataclass(frozen=True, slots=True)
class TargetRemoval:
    """``ctl:ruleRemoveTarget*``: which rules (ids, or a tag / msg) lose which variable (and key)."""

    ids: tuple[tuple[int, int], ...]
    text: str | None  # tag or msg, for ByTag / ByMsg
    variable: str  # upper-case variable name, e.g. ARGS
    key: str | None  # lower-case key, or None for the whole variable
    regex: re.Pattern[str] | None = None  # ARGS:/^json\./ style key
    kind: str = "id"  # id, tag or msg: what ``ids`` / ``text`` select rules by


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
    elif option in ("ruleRemoveTargetById", "ruleRemoveTargetByTag", "ruleRemoveTargetByMsg"):
        parsed = _target_removal(option, arg, fail)
    elif option == "ruleRemoveByMsg":
        parsed = arg
    elif option == "requestBodyLimit":
        if not arg.isdigit() or int(arg) <= 0:
            raise fail(f"invalid requestBodyLimit {arg!r}; expected a positive number of bytes")
        parsed = int(arg)
    elif option == "auditEngine":
        if arg.lower() not in AUDIT_ENGINE:
            raise fail(f"invalid auditEngine {arg!r}; expected On, Off or RelevantOnly")
        parsed = AUDIT_ENGINE[arg.lower()]
    elif option == "forceRequestBodyVariable":
        if arg.lower() not in ("on", "off"):
            raise fail(f"invalid forceRequestBodyVariable {arg!r}; expected On or Off")
        parsed = arg.lower() == "on"
    elif option == "requestBodyProcessor":
        if arg.upper() not in ("URLENCODED", "JSON", "MULTIPART", "XML"):
            raise fail(f"invalid requestBodyProcessor {arg!r}; expected URLENCODED, JSON, MULTIPART or XML")
        parsed = arg.upper()
    draft.runtime.append(Ctl(option, arg, parsed))


def _target_removal(option: str, arg: str, fail: Fail) -> TargetRemoval:
    which, semi, target = arg.partition(";")
    if not semi or not which.strip() or not target.strip():
        raise fail(f"{option} needs WHAT;VARIABLE[:key], got {arg!r}; e.g. {option}=942100;ARGS:password")
    variable, colon, key = target.strip().partition(":")
    from services.waf.variables import VARIABLES

    if variable.upper() not in VARIABLES:
        raise fail(f"{option}: unknown variable {variable!r} in {arg!r}")
    regex: re.Pattern[str] | None = None
    if colon and len(key) >= 2 and key.startswith("/") and key.endswith("/"):
        try:
            regex = re.compile(key[1:-1], re.IGNORECASE | re.DOTALL)
        except re.error as exc:
            raise fail(f"{option}: invalid key regex {key!r}: {exc}") from exc
    ids = parse_id_ranges(which, fail) if option == "ruleRemoveTargetById" else ()
    return TargetRemoval(
        ids=ids,
        text=None if option == "ruleRemoveTargetById" else which.strip(),
        variable=variable.upper(),
        key=key.lower() if colon and regex is None else None,
        regex=regex,
        kind={"ruleRemoveTargetById": "id", "ruleRemoveTargetByTag": "tag"}.get(option, "msg"),
    )
