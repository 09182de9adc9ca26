"""The directive table: one handler per SecLang directive this engine implements.

Examples::

    SecRuleEngine On
    SecRequestBodyAccess On
    SecDefaultAction "phase:2,log,auditlog,deny,status:403"
    SecRule ARGS "@detectSQLi" "id:1000110,phase:2,t:none,t:urlDecodeUni,deny"
    SecAction "id:1000001,phase:1,pass,nolog,setvar:tx.inbound_threshold=5"
    SecMarker END_CORE_SQLI
    Include crs/*.conf

Directive names are case-insensitive, as Apache's configuration reader treats them. Any other
directive is accepted with a notice naming file:line (ModSecurity has many that do not affect
matching, e.g. SecAuditLog), never silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.waf.operators import OPERATORS
from services.waf.seclang import updates
from services.waf.seclang.builder import ConfigBuilder
from services.waf.seclang.operator_spec import OperatorSpec, parse_operator
from services.waf.seclang.source import Directive, Token
from services.waf.seclang.targets import parse_targets

Handler = Callable[[ConfigBuilder, Directive], None]


@dataclass(frozen=True, slots=True)
class DirectiveDef:
    name: str
    handler: Handler
    min_args: int
    max_args: int
    usage: str


DIRECTIVES: dict[str, DirectiveDef] = {}


def directive(name: str, min_args: int, max_args: int, usage: str) -> Callable[[Handler], Handler]:
    def deco(handler: Handler) -> Handler:
        DIRECTIVES[name.lower()] = DirectiveDef(name, handler, min_args, max_args, usage)
        return handler

    return deco


def _on_off(token: Token, what: str) -> bool:
    value = token.text.lower()
    if value not in ("on", "off"):
        raise token.error(0, f"invalid {what} value {token.text!r}; expected On or Off")
    return value == "on"


@directive("SecRule", 2, 3, 'SecRule VARIABLES "OPERATOR" "ACTIONS"')
def _sec_rule(builder: ConfigBuilder, d: Directive) -> None:
    targets = parse_targets(d.args[0])
    spec = parse_operator(d.args[1], builder.compile_context(d.location))
    builder.add_rule(targets, spec, d.args[2] if len(d.args) > 2 else None, d.location, d.name)


@directive("SecAction", 1, 1, 'SecAction "ACTIONS"')
def _sec_action(builder: ConfigBuilder, d: Directive) -> None:
    operator = OPERATORS["unconditionalmatch"].factory("", builder.compile_context(d.location))
    spec = OperatorSpec(name="unconditionalMatch", argument="", negated=False, operator=operator)
    builder.add_rule((), spec, d.args[0], d.location, d.name)


@directive("SecDefaultAction", 1, 1, 'SecDefaultAction "phase:N,DISRUPTIVE,..."')
def _sec_default_action(builder: ConfigBuilder, d: Directive) -> None:
    builder.set_default(d.args[0])


@directive("SecMarker", 1, 1, "SecMarker NAME")
def _sec_marker(builder: ConfigBuilder, d: Directive) -> None:
    builder.add_marker(d.args[0].text, d.location)


@directive("SecRuleEngine", 1, 1, "SecRuleEngine On|Off|DetectionOnly")
def _sec_rule_engine(builder: ConfigBuilder, d: Directive) -> None:
    modes = {"on": "On", "off": "Off", "detectiononly": "DetectionOnly"}
    value = d.args[0]
    if value.text.lower() not in modes:
        raise value.error(0, f"invalid SecRuleEngine value {value.text!r}; expected On, Off or DetectionOnly")
    builder.engine_mode = modes[value.text.lower()]


@directive("SecRequestBodyAccess", 1, 1, "SecRequestBodyAccess On|Off")
def _sec_request_body_access(builder: ConfigBuilder, d: Directive) -> None:
    builder.body_access = _on_off(d.args[0], "SecRequestBodyAccess")


@directive("SecRequestBodyLimit", 1, 1, "SecRequestBodyLimit BYTES")
def _sec_request_body_limit(builder: ConfigBuilder, d: Directive) -> None:
    value = d.args[0]
    if not value.text.isdigit() or int(value.text) <= 0:
        raise value.error(0, f"invalid SecRequestBodyLimit {value.text!r}; expected a positive number of bytes")
    builder.body_limit = int(value.text)


@directive("SecComponentSignature", 1, 1, 'SecComponentSignature "name/version"')
def _sec_component_signature(builder: ConfigBuilder, d: Directive) -> None:
    builder.signatures.append(d.args[0].text)


def _positive(token: Token, what: str) -> int:
    if not token.text.isdigit() or int(token.text) <= 0:
        raise token.error(0, f"invalid {what} {token.text!r}; expected a positive whole number")
    return int(token.text)


def _limit_action(token: Token, what: str) -> str:
    actions = {"reject": "Reject", "processpartial": "ProcessPartial"}
    if token.text.lower() not in actions:
        raise token.error(0, f"invalid {what} {token.text!r}; expected Reject or ProcessPartial")
    return actions[token.text.lower()]


@directive("SecRequestBodyLimitAction", 1, 1, "SecRequestBodyLimitAction Reject|ProcessPartial")
def _sec_request_body_limit_action(builder: ConfigBuilder, d: Directive) -> None:
    builder.body_limit_action = _limit_action(d.args[0], "SecRequestBodyLimitAction")


@directive("SecRequestBodyNoFilesLimit", 1, 1, "SecRequestBodyNoFilesLimit BYTES")
def _sec_request_body_nofiles_limit(builder: ConfigBuilder, d: Directive) -> None:
    builder.nofiles_limit = _positive(d.args[0], "SecRequestBodyNoFilesLimit")


@directive("SecArgumentsLimit", 1, 1, "SecArgumentsLimit N")
def _sec_arguments_limit(builder: ConfigBuilder, d: Directive) -> None:
    builder.args_limit = _positive(d.args[0], "SecArgumentsLimit")


@directive("SecRequestBodyJsonDepthLimit", 1, 1, "SecRequestBodyJsonDepthLimit N")
def _sec_json_depth_limit(builder: ConfigBuilder, d: Directive) -> None:
    builder.json_depth_limit = _positive(d.args[0], "SecRequestBodyJsonDepthLimit")


@directive("SecUploadFileLimit", 1, 1, "SecUploadFileLimit N")
def _sec_upload_file_limit(builder: ConfigBuilder, d: Directive) -> None:
    builder.upload_file_limit = _positive(d.args[0], "SecUploadFileLimit")


@directive("SecCollectionTimeout", 1, 1, "SecCollectionTimeout SECONDS")
def _sec_collection_timeout(builder: ConfigBuilder, d: Directive) -> None:
    builder.collection_timeout = _positive(d.args[0], "SecCollectionTimeout")


@directive("SecResponseBodyAccess", 1, 1, "SecResponseBodyAccess On|Off")
def _sec_response_body_access(builder: ConfigBuilder, d: Directive) -> None:
    builder.response_body_access = _on_off(d.args[0], "SecResponseBodyAccess")


@directive("SecResponseBodyMimeType", 1, 64, "SecResponseBodyMimeType TYPE [TYPE ...]")
def _sec_response_body_mime_type(builder: ConfigBuilder, d: Directive) -> None:
    types = [t for token in d.args for t in token.text.lower().split()]
    builder.response_mime_types = tuple(dict.fromkeys(builder.response_mime_types + tuple(types)))


@directive("SecResponseBodyMimeTypesClear", 0, 0, "SecResponseBodyMimeTypesClear")
def _sec_response_body_mime_types_clear(builder: ConfigBuilder, d: Directive) -> None:
    builder.response_mime_types = ()


@directive("SecResponseBodyLimit", 1, 1, "SecResponseBodyLimit BYTES")
def _sec_response_body_limit(builder: ConfigBuilder, d: Directive) -> None:
    builder.response_body_limit = _positive(d.args[0], "SecResponseBodyLimit")


@directive("SecResponseBodyLimitAction", 1, 1, "SecResponseBodyLimitAction Reject|ProcessPartial")
def _sec_response_body_limit_action(builder: ConfigBuilder, d: Directive) -> None:
    builder.response_body_limit_action = _limit_action(d.args[0], "SecResponseBodyLimitAction")


def _removed(builder: ConfigBuilder, d: Directive, what: str, count: int) -> None:
    if count == 0:
        builder.notices.append(f"{d.location}: {d.name.text} {what} matches no rule loaded so far")


@directive("SecRuleRemoveById", 1, 64, "SecRuleRemoveById ID|LOW-HIGH ...")
def _sec_rule_remove_by_id(builder: ConfigBuilder, d: Directive) -> None:
    _removed(builder, d, " ".join(t.text for t in d.args), updates.remove_rules(builder, updates.id_predicate(d.args)))


@directive("SecRuleRemoveByTag", 1, 1, "SecRuleRemoveByTag REGEX")
def _sec_rule_remove_by_tag(builder: ConfigBuilder, d: Directive) -> None:
    predicate = updates.regex_predicate(d.args[0], "tag")
    _removed(builder, d, d.args[0].text, updates.remove_rules(builder, predicate))


@directive("SecRuleRemoveByMsg", 1, 1, "SecRuleRemoveByMsg REGEX")
def _sec_rule_remove_by_msg(builder: ConfigBuilder, d: Directive) -> None:
    predicate = updates.regex_predicate(d.args[0], "msg")
    _removed(builder, d, d.args[0].text, updates.remove_rules(builder, predicate))


@directive("SecRuleUpdateTargetById", 2, 3, "SecRuleUpdateTargetById ID[-ID] TARGETS [REPLACED]")
def _sec_rule_update_target_by_id(builder: ConfigBuilder, d: Directive) -> None:
    _removed(builder, d, d.args[0].text, updates.update_targets(builder, d, updates.id_predicate([d.args[0]])))


@directive("SecRuleUpdateTargetByTag", 2, 3, "SecRuleUpdateTargetByTag REGEX TARGETS [REPLACED]")
def _sec_rule_update_target_by_tag(builder: ConfigBuilder, d: Directive) -> None:
    predicate = updates.regex_predicate(d.args[0], "tag")
    _removed(builder, d, d.args[0].text, updates.update_targets(builder, d, predicate))


@directive("SecRuleUpdateTargetByMsg", 2, 3, "SecRuleUpdateTargetByMsg REGEX TARGETS [REPLACED]")
def _sec_rule_update_target_by_msg(builder: ConfigBuilder, d: Directive) -> None:
    predicate = updates.regex_predicate(d.args[0], "msg")
    _removed(builder, d, d.args[0].text, updates.update_targets(builder, d, predicate))


@directive("SecRuleUpdateActionById", 2, 2, 'SecRuleUpdateActionById ID "ACTIONS"')
def _sec_rule_update_action_by_id(builder: ConfigBuilder, d: Directive) -> None:
    _removed(builder, d, d.args[0].text, updates.update_actions(builder, d, updates.id_predicate([d.args[0]])))


# Directives that configure parts of ModSecurity this engine does not have (its own audit and
# debug logs, temporary files, PCRE limits, Apache integration). They are accepted so that stock
# configurations load, with a notice naming file:line and why the setting has no effect here.
NO_EFFECT = {
    "secauditengine": "audit logging is the WAF's alert stream (ctl:auditEngine is honoured per transaction)",
    "secauditlog": "audit logging is the WAF's alert stream",
    "secauditlog2": "audit logging is the WAF's alert stream",
    "secauditlogparts": "audit logging is the WAF's alert stream",
    "secauditlogrelevantstatus": "audit logging is the WAF's alert stream",
    "secauditlogtype": "audit logging is the WAF's alert stream",
    "secauditlogformat": "audit logging is the WAF's alert stream",
    "secauditlogdirmode": "audit logging is the WAF's alert stream",
    "secauditlogfilemode": "audit logging is the WAF's alert stream",
    "secauditlogstoragedir": "audit logging is the WAF's alert stream",
    "secdebuglog": "the engine logs through Python logging (logger secchain.waf.engine)",
    "secdebugloglevel": "the engine logs through Python logging (logger secchain.waf.engine)",
    "sectmpdir": "request bodies are kept in memory",
    "secdatadir": "persistent collections are kept in memory per rule set",
    "secuploaddir": "uploads are kept in memory, never written to disk",
    "secuploadkeepfiles": "uploads are kept in memory, never written to disk",
    "secuploadfilemode": "uploads are kept in memory, never written to disk",
    "secrequestbodyinmemorylimit": "request bodies are always buffered in memory (bounded by SecRequestBodyLimit)",
    "secpcrematchlimit": "regexes run on Hyperscan / Python re, which have no PCRE match limit",
    "secpcrematchlimitrecursion": "regexes run on Hyperscan / Python re, which have no PCRE match limit",
    "secstatusengine": "no status reporting to ModSecurity's servers",
    "secserversignature": "the proxy sets its own Server header",
    "sectmpsaveuploadedfiles": "uploads are kept in memory, never written to disk",
    "secunicodemapfile": "t:urlDecodeUni uses ModSecurity's built-in mapping (no code page file)",
    "secunicodecodepage": "t:urlDecodeUni uses ModSecurity's built-in mapping (no code page file)",
    "seccookieformat": "cookies are parsed as version 0 (the ModSecurity default)",
    "secargumentseparator": "arguments are separated by '&' (the ModSecurity default)",
    "secgeolookupdb": "@geoLookup is not available",
    "secconnengine": "connection limits are the proxy's rate limiter",
    "secstreaminbodyinspection": "request bodies are inspected whole",
    "secstreamoutbodyinspection": "response bodies are inspected whole",
    "sechashengine": "HMAC token protection is not implemented",
    "sechashkey": "HMAC token protection is not implemented",
    "sechashparam": "HMAC token protection is not implemented",
    "sechashmethodrx": "HMAC token protection is not implemented",
    "sechashmethodpm": "HMAC token protection is not implemented",
    "secxmlexternalentity": "external XML entities are never loaded",
    "secsensorid": "the WAF instance is named by observer.name in alerts",
    "secwebappid": "the site is named by service.name in alerts",
    "seccachetransformations": "transformation results are always cached per transaction",
}


def _no_effect(builder: ConfigBuilder, d: Directive) -> None:
    builder.notices.append(f"{d.location}: {d.name.text} has no effect here: {NO_EFFECT[d.name.text.lower()]}")


for _name in NO_EFFECT:
    DIRECTIVES[_name] = DirectiveDef(_name, _no_effect, 0, 64, "(accepted, no effect)")
