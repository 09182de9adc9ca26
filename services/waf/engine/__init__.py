"""The SecLang engine: load rules into an immutable RuleSet, run requests through Transactions.

    rs = load_ruleset([Path("rules/waf/core/core.conf")])
    tx = rs.new_transaction(client_ip="192.0.2.1", client_port=50000, server_ip="127.0.0.1",
                            server_port=8080, unique_id="...")
    tx.process_request_line("GET", "/?q=1", "HTTP/1.1")
    intervention = tx.process_request_headers([("Host", "demo.local")]) or tx.process_request_body(b"")

Names are resolved lazily (PEP 562) because operators import the matcher adapter from this
package while the rule loader imports the operators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.waf.engine.results import Intervention, MatchedRule
    from services.waf.engine.rule import Rule
    from services.waf.engine.ruleset import RuleSet, load_ruleset
    from services.waf.engine.transaction import Transaction
    from services.waf.seclang.errors import SecLangParseError

__all__ = ["Intervention", "MatchedRule", "Rule", "RuleSet", "SecLangParseError", "Transaction", "load_ruleset"]

_WHERE = {
    "Intervention": "services.waf.engine.results",
    "MatchedRule": "services.waf.engine.results",
    "Rule": "services.waf.engine.rule",
    "RuleSet": "services.waf.engine.ruleset",
    "load_ruleset": "services.waf.engine.ruleset",
    "Transaction": "services.waf.engine.transaction",
    "SecLangParseError": "services.waf.seclang.errors",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'services.waf.engine' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
