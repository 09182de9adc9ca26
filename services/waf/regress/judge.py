"""The verdict on one stage, as go-ftw gives it, against our match log instead of an error log.

go-ftw greps ModSecurity's error log for the request's lines; each matched rule appears there as
``[id "942100"]``. We rebuild those fragments from the match log entry of the request (one line per
rule id), so the suite's regexes (``id "942100"``, bare ``942100``) apply unchanged.

Requests the WAF refused before its rule engine ran (aiohttp answers 400 to a request line or
header it cannot parse, before any handler) carry no ``X-Request-Id`` and leave no match log line.
They are judged as ModSecurity behind Apache is when Apache itself rejects the request: the
response status counts, and the log is empty, so ``no_log_contains`` holds and ``log_contains``
fails. A test expecting an error (``expect_error: true``) passes only if no complete response came
back (closed or reset connection, timeout), like go-ftw.

Every expectation a stage states must hold (status, log, response_contains, error): stricter than
go-ftw's "first assertion that applies", so a wrong status is never hidden by a log match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.waf.regress.client import Response
from services.waf.regress.matchlog import MatchEntry
from services.waf.regress.model import Expect


@dataclass(slots=True)
class Verdict:
    passed: bool
    reasons: list[str] = field(default_factory=list)
    status: int | None = None
    rule_ids: tuple[int, ...] = ()
    request_id: str | None = None


def log_text(entry: MatchEntry | None) -> str:
    """The error-log fragments ModSecurity would have written for this request's matched rules."""
    if entry is None:
        return ""
    return "\n".join(f'[id "{rid}"]' for rid in entry.rule_ids)


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        # go-ftw compiles the pattern with Go's regexp (RE2); a pattern Python rejects is taken literally.
        return pattern in text


def judge(expect: Expect, response: Response | None, error: str | None, entry: MatchEntry | None) -> Verdict:
    """Judge one stage. ``response`` is None exactly when ``error`` says why no response came."""
    v = Verdict(passed=True, status=response.status if response else None,
                rule_ids=entry.rule_ids if entry else (), request_id=entry.request_id if entry else None)
    if expect.expect_error:
        if error is None:
            v.reasons.append(f"expected an error (closed connection), got HTTP {v.status}")
        return _done(v)
    if error is not None:
        v.reasons.append(f"no response: {error}")
        return _done(v)
    assert response is not None
    if expect.status and response.status not in expect.status:
        want = expect.status[0] if len(expect.status) == 1 else list(expect.status)
        v.reasons.append(f"status {response.status}, expected {want}")
    text = log_text(entry)
    where = f"request {entry.request_id}" if entry else "no engine log for this request (rejected before the engine)"
    if expect.log_contains and not _search(expect.log_contains, text):
        v.reasons.append(f"log does not contain {expect.log_contains!r} ({where}; rules {list(v.rule_ids)})")
    if expect.no_log_contains and _search(expect.no_log_contains, text):
        v.reasons.append(f"log contains {expect.no_log_contains!r} ({where})")
    for rid in expect.expect_ids:
        if rid not in v.rule_ids:
            v.reasons.append(f"rule {rid} expected, not matched ({where}; rules {list(v.rule_ids)})")
    for rid in expect.no_expect_ids:
        if rid in v.rule_ids:
            v.reasons.append(f"rule {rid} matched, expected not to ({where})")
    if expect.response_contains and not _search(expect.response_contains, response.text):
        v.reasons.append(f"response does not contain {expect.response_contains!r}")
    return _done(v)


def _done(v: Verdict) -> Verdict:
    v.passed = not v.reasons
    return v
