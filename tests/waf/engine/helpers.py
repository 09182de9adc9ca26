"""Small drivers shared by the engine tests: load rules from text and run one request."""

from __future__ import annotations

from collections.abc import Sequence

from services.waf.engine import RuleSet, Transaction

PREFIX = "SecRuleEngine On\nSecRequestBodyAccess On\n"


def ruleset(text: str, *, prefix: str = PREFIX, source: str = "test.conf") -> RuleSet:
    return RuleSet.from_text(prefix + text, source=source)


def run(
    rules: RuleSet | str,
    uri: str = "/",
    *,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (("Host", "demo.local"),),
    body: bytes = b"",
    status: int | None = None,
) -> Transaction:
    rs = ruleset(rules) if isinstance(rules, str) else rules
    tx = rs.new_transaction(
        client_ip="192.0.2.10", client_port=40000, server_ip="127.0.0.1", server_port=8080, unique_id="t-1"
    )
    tx.process_request_line(method, uri, "HTTP/1.1")
    if tx.process_request_headers(list(headers)) is None and tx.process_request_body(body) is None:
        if status is not None:
            tx.process_response_headers(status, [("Content-Type", "text/html")])
    tx.process_logging()
    return tx


def ids(tx: Transaction) -> list[int]:
    return [m.id for m in tx.matched_rules]
