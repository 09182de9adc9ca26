"""Regenerate ``known_failures.yaml``: the CRS regression tests the WAF fails today.

    .venv/bin/python -m tests.waf.crs_regress.refresh          # the whole CRS 3.3 suite (about a minute warm)
    .venv/bin/python -m tests.waf.crs_regress.refresh --smoke  # only the CI selection

The CI smoke suite marks exactly these as xfail (not strict), with the reason recorded here, so a
fix shows up as XPASS and the next refresh drops the entry; nothing else is ever marked. Overridden
tests (services/waf/regress/overrides.yaml) are not listed: they are skipped with their own reason.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys

import yaml

from services.waf.regress.launcher import launch
from services.waf.regress.matchlog import MatchLog
from services.waf.regress.model import load_dir
from services.waf.regress.overrides import load_overrides
from services.waf.regress.runner import FAIL, RunResult, Runner, summary, summary_line
from tests.waf.crs_regress.conftest import CACHE_DIR
from tests.waf.crs_regress.selection import KNOWN_FAILURES, SUITE_DIR, select_smoke

HEADER = """\
# CRS 3.3 regression tests the WAF fails today, with the first reason seen. GENERATED: do not edit.
# Regenerate with: .venv/bin/python -m tests.waf.crs_regress.refresh
# tests/waf/crs_regress marks these xfail (strict=False); fix the WAF, then regenerate to shrink the list.
"""


def short_reason(result: RunResult) -> str:
    reason = result.reasons[0] if result.reasons else "failed"
    reason = re.sub(r"; rules \[[^\]]*\]", "", reason)
    reason = re.sub(r"request [0-9a-f]{32}", "the engine ran", reason)
    return reason[:200]


def render(results: list[RunResult], scope: str) -> str:
    failures = [{"test": r.title, "rule": r.case.rule_id, "reason": short_reason(r)}
                for r in results if r.outcome == FAIL]
    doc = {"generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "scope": scope,
           "failures": failures}
    return HEADER + yaml.safe_dump(doc, sort_keys=False, width=120, allow_unicode=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="run only the CI selection")
    args = ap.parse_args(argv)
    cases = load_dir(SUITE_DIR)
    if args.smoke:
        cases = select_smoke(cases)
    print(f"starting the WAF (CRS PL4, detect) and running {len(cases)} tests...", file=sys.stderr)
    waf = launch(paranoia=4, mode="detect", workers=2, cache_dir=CACHE_DIR)
    try:
        runner = Runner("127.0.0.1", waf.port, MatchLog(waf.match_log), overrides=load_overrides())
        results = list(runner.run(cases, jobs=2))
    finally:
        waf.stop()
    KNOWN_FAILURES.write_text(render(results, "smoke" if args.smoke else "full"))
    print(f"{KNOWN_FAILURES}: {sum(r.outcome == FAIL for r in results)} known failures written")
    print(summary_line(*summary(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
