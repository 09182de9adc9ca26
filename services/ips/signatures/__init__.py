"""Suricata rule language: parser, keyword modules and per-buffer inspection.

    from services.ips.signatures import load_rules, parse_rule, inspect_buffer, InspectContext
"""

from services.ips.signatures.classification import Classification, load_classifications
from services.ips.signatures.errors import RuleSyntaxError, RuleUnsupported
from services.ips.signatures.inspect import InspectContext, inspect_buffer
from services.ips.signatures.model import (
    AppProtoCheck,
    BufferInspection,
    FastPattern,
    FlowbitOp,
    FlowSpec,
    Signature,
    ThresholdSpec,
    XbitOp,
)
from services.ips.signatures.parser import RuleLocation, RuleSet, load_rules, parse_rule
from services.ips.signatures.variables import AddressSet, PortSet, RuleVariables

__all__ = [
    "AddressSet",
    "AppProtoCheck",
    "BufferInspection",
    "Classification",
    "FastPattern",
    "FlowSpec",
    "FlowbitOp",
    "InspectContext",
    "PortSet",
    "RuleLocation",
    "RuleSet",
    "RuleSyntaxError",
    "RuleUnsupported",
    "RuleVariables",
    "Signature",
    "ThresholdSpec",
    "XbitOp",
    "inspect_buffer",
    "load_classifications",
    "load_rules",
    "parse_rule",
]
