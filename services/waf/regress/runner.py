"""Runs test cases against a WAF and collects verdicts; printing is the CLI's business."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from services.waf.regress.client import SendError, send
from services.waf.regress.judge import Verdict, judge
from services.waf.regress.matchlog import MatchLog
from services.waf.regress.model import TestCase
from services.waf.regress.overrides import Overrides
from services.waf.regress.request import build_request

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(slots=True)
class RunResult:
    case: TestCase
    outcome: str  # pass | fail | skip
    reasons: list[str] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)  # what went on the wire, stage by stage

    @property
    def title(self) -> str:
        return self.case.title


def select(cases: Iterable[TestCase], *, include: str | None = None, rule: int | None = None) -> list[TestCase]:
    """Filter by title regex (``--include``) and by rule id (``--rule``), keeping file order."""
    rx = re.compile(include) if include else None
    return [c for c in cases
            if (rx is None or rx.search(c.title)) and (rule is None or c.rule_id == rule)]


class Runner:
    """Sends each stage to ``host:port`` on a fresh connection and judges it with the match log."""

    def __init__(self, host: str, port: int, match_log: MatchLog, *, overrides: Overrides | None = None,
                 host_header: str | None = None, timeout: float = 10.0, log_wait: float = 3.0) -> None:
        self.host = host
        self.port = port
        self.match_log = match_log
        self.overrides = overrides or Overrides({})
        self.host_header = host_header
        self.timeout = timeout
        self.log_wait = log_wait

    def run_case(self, case: TestCase) -> RunResult:
        reason = self.overrides.reason(case.title)
        if reason is not None:
            return RunResult(case, SKIP, [f"override: {reason}"])
        if not case.enabled:
            return RunResult(case, SKIP, ["disabled in the test file (meta.enabled: false)"])
        result = RunResult(case, PASS)
        for n, stage in enumerate(case.stages, 1):
            payload = build_request(stage.input, host_override=self.host_header)
            result.requests.append(payload)
            response, error, entry = None, None, None
            try:
                response = send(self.host, self.port, payload, method=stage.input.method, timeout=self.timeout)
            except SendError as exc:
                error = str(exc)
            if response is not None:
                rid = response.header("X-Request-Id")
                if rid:
                    entry = self.match_log.wait_for(rid, self.log_wait)
            verdict = judge(stage.expect, response, error, entry)
            result.verdicts.append(verdict)
            if not verdict.passed:
                result.outcome = FAIL
                prefix = f"stage {n}: " if len(case.stages) > 1 else ""
                result.reasons += [prefix + r for r in verdict.reasons]
        return result

    def run(self, cases: list[TestCase], *, jobs: int = 1,
            on_result: Callable[[RunResult], None] | None = None) -> Iterator[RunResult]:
        """Results in input order; ``jobs`` > 1 overlaps requests (the WAF has workers to match)."""
        if jobs <= 1:
            for case in cases:
                r = self.run_case(case)
                if on_result:
                    on_result(r)
                yield r
            return
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for r in pool.map(self.run_case, cases):
                if on_result:
                    on_result(r)
                yield r


def summary(results: Iterable[RunResult]) -> tuple[int, int, int]:
    """(passed, failed, skipped)."""
    counts = {PASS: 0, FAIL: 0, SKIP: 0}
    for r in results:
        counts[r.outcome] += 1
    return counts[PASS], counts[FAIL], counts[SKIP]


def summary_line(passed: int, failed: int, skipped: int) -> str:
    line = f"{passed} passed, {failed} failed"
    return line + (f", {skipped} skipped" if skipped else "")
