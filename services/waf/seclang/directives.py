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
