"""Run a WAF pack's test cases through the real SecLang engine.

A case (``rules/waf/core/tests/*.yaml``, format in that folder's README)::

    - name: sqli-union-select-query
      request: {method: GET, uri: "/products?id=1%20UNION%20SELECT%201", headers: {...}, body: "..."}
      expect: {match: [1001110], no_match: [1001100]}      # or {none: true} for benign traffic

Each case runs twice, as ModSecurity's own regression harness would need two configurations:
under DetectionOnly, so every rule that matches is seen (not only the first, which would block),
and under the pack's own SecRuleEngine, where an attack must be blocked and benign traffic pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_HEADERS = {
    "Host": "demo.local",
    "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-IE,en;q=0.9",
}


class CaseFileError(ValueError):
    """A case file is unreadable or a case is malformed (message: file:line: what)."""


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    request: dict[str, Any]
    expect: dict[str, Any]
    file: str
    line: int

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(slots=True)
class CaseResult:
    case: Case
    matched: set[int]
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def load_cases(paths: list[Path]) -> list[Case]:
    cases: list[Case] = []
    names: dict[str, str] = {}
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
            data = yaml.safe_load(text)
            node = yaml.compose(text)
        except (OSError, yaml.YAMLError) as exc:
            raise CaseFileError(f"{path}: cannot read test cases: {exc}") from exc
        if not isinstance(data, list):
            raise CaseFileError(f"{path}:1: expected a list of cases")
        lines = [n.start_mark.line + 1 for n in node.value] if isinstance(node, yaml.SequenceNode) else [1] * len(data)
        for item, line in zip(data, lines):
            where = f"{path}:{line}"
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise CaseFileError(f"{where}: a case needs a name")
            request, expect = item.get("request"), item.get("expect")
            if not isinstance(request, dict) or not isinstance(request.get("uri"), str):
                raise CaseFileError(f"{where}: case {item['name']}: request.uri is required")
            if not isinstance(expect, dict) or not (expect.get("match") or expect.get("none") or "no_match" in expect):
                raise CaseFileError(f"{where}: case {item['name']}: expect needs match, no_match or none")
            for key in ("match", "no_match"):
                ids = expect.get(key, [])
                if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
                    raise CaseFileError(f"{where}: case {item['name']}: expect.{key}: expected a list of rule ids")
            if item["name"] in names:
                raise CaseFileError(f"{where}: duplicate case name {item['name']!r} (first at {names[item['name']]})")
            names[item["name"]] = where
            cases.append(Case(item["name"], request, expect, str(path), line))
    return cases


def run_request(ruleset: Any, request: dict[str, Any]) -> Any:
    """One request through phases 1, 2 and 5; the finished Transaction."""
    headers = dict(DEFAULT_HEADERS)
    headers.update(request.get("headers") or {})
    body = request.get("body", "")
    if "content_type" in request:
        headers["Content-Type"] = request["content_type"]
    if body:
        headers["Content-Length"] = str(len(body.encode()))
    tx = ruleset.new_transaction(client_ip="198.51.100.23", client_port=51515, server_ip="127.0.0.1",
                                 server_port=8080, unique_id="case")
    tx.process_request_line(request.get("method", "GET"), request["uri"], "HTTP/1.1")
    if tx.process_request_headers(list(headers.items())) is None:
        tx.process_request_body(body.encode())
    tx.process_logging()
    return tx


def run_case(ruleset: Any, case: Case) -> CaseResult:
    expect = case.expect
    tx = run_request(ruleset.with_engine_mode("DetectionOnly"), case.request)
    matched = {m.id for m in tx.matched_rules if m.log}
    result = CaseResult(case, matched)
    if tx.errors:
        result.problems.append(f"rule evaluation errors: {tx.errors}")
    if expect.get("none") and matched:
        result.problems.append(f"benign traffic matched {sorted(matched)}")
    missing = set(expect.get("match", [])) - matched
    if missing:
        result.problems.append(f"expected rules did not match: {sorted(missing)} (matched {sorted(matched)})")
    unexpected = set(expect.get("no_match", [])) & matched
    if unexpected:
        result.problems.append(f"rules matched that must not: {sorted(unexpected)}")
    if ruleset.engine_mode == "On":
        enforced = run_request(ruleset, case.request)
        blocked = enforced.intervention is not None
        if expect.get("match") and not blocked:
            result.problems.append("attack was not blocked with the pack's own SecRuleEngine On")
        elif not expect.get("match") and expect.get("none") and blocked:
            result.problems.append(f"benign traffic was blocked by rule {enforced.intervention.rule_id}")
    return result


def run_cases(ruleset: Any, cases: list[Case]) -> Iterator[CaseResult]:
    for case in cases:
        yield run_case(ruleset, case)
