"""``python -m services.waf.regress DIR`` (``secchain waf regress``): run CRS regression tests.

    python -m services.waf.regress /work/shared/crs-3.3-tests --start            # one command, whole suite
    python -m services.waf.regress DIR --waf http://127.0.0.1:8080 --match-log var/waf-match.log

Prints one line per test (PASS / FAIL with the reasons / SKIP with the override's reason), the
failures grouped by rule, then exactly ``N passed, M failed`` (``, K skipped`` when some were).
Exit status: 0 all passed, 1 some failed, 2 usage or start-up error.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from services.waf.regress.matchlog import MatchLog
from services.waf.regress.model import TestFileError, load_dir
from services.waf.regress.overrides import DEFAULT_OVERRIDES, OverridesError, load_overrides
from services.waf.regress.runner import FAIL, PASS, RunResult, Runner, select, summary, summary_line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="secchain waf regress", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", type=Path, help="folder of regression YAML (CRS 3.3 ftw or 4.x go-ftw format), or one file")
    p.add_argument("--waf", default="http://127.0.0.1:8080", help="the WAF's data-plane URL (default %(default)s)")
    p.add_argument("--match-log", type=Path, help="the file the WAF was started with as --match-log")
    p.add_argument("--host", default=None,
                   help="replace every test's Host header value with HOST (for a WAF whose CRS site has another name)")
    p.add_argument("--include", default=None, help="only tests whose title matches this regex (e.g. '^942')")
    p.add_argument("--rule", type=int, default=None, help="only the tests of this rule id")
    p.add_argument("--start", action="store_true",
                   help="start an upstream and a WAF with a CRS site (PL4, detect) on free ports with temp files")
    p.add_argument("--paranoia", type=int, default=4, choices=(1, 2, 3, 4), help="with --start (default 4)")
    p.add_argument("--workers", type=int, default=2, help="WAF workers with --start (default %(default)s)")
    p.add_argument("--cache-dir", type=Path, default=None, help="with --start: keep compiled databases here")
    p.add_argument("--jobs", type=int, default=2, help="requests in flight at once (default %(default)s)")
    p.add_argument("--overrides", type=Path, default=DEFAULT_OVERRIDES, help="tests to skip, with reasons")
    p.add_argument("-q", "--quiet", action="store_true", help="print only failures and the summary")
    p.add_argument("-v", "--verbose", action="store_true", help="with each failure, the request bytes sent")
    return p


def _print_result(r: RunResult, quiet: bool, verbose: bool = False) -> None:
    if r.outcome == PASS:
        if not quiet:
            print(f"PASS {r.title}")
    elif r.outcome == FAIL:
        print(f"FAIL {r.title}: {'; '.join(r.reasons)}")
        if verbose:
            for n, payload in enumerate(r.requests, 1):
                shown = repr(payload[:2000]) + (" ..." if len(payload) > 2000 else "")
                print(f"    stage {n} request: {shown}")
    elif not quiet:
        print(f"SKIP {r.title}: {'; '.join(r.reasons)}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cases = select(load_dir(args.dir), include=args.include, rule=args.rule)
        overrides = load_overrides(args.overrides)
    except (TestFileError, OverridesError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not cases:
        print(f"error: no tests selected under {args.dir}", file=sys.stderr)
        return 2

    launched = None
    if args.start:
        from services.waf.regress.launcher import LaunchError, launch

        print(f"starting upstream + WAF (CRS PL{args.paranoia}, detect, {args.workers} workers)...", file=sys.stderr)
        try:
            launched = launch(paranoia=args.paranoia, workers=args.workers, cache_dir=args.cache_dir)
        except (LaunchError, OSError, TimeoutError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        host, port, log_path = "127.0.0.1", launched.port, launched.match_log
    else:
        if args.match_log is None:
            print("error: --match-log FILE is required without --start (the WAF's --match-log file); "
                  "rule ids are judged from it", file=sys.stderr)
            return 2
        parts = urlsplit(args.waf)
        if parts.scheme != "http" or not parts.hostname:
            print(f"error: --waf: expected http://HOST:PORT, got {args.waf!r}", file=sys.stderr)
            return 2
        host, port, log_path = parts.hostname, parts.port or 80, args.match_log
    try:
        runner = Runner(host, port, MatchLog(log_path), overrides=overrides, host_header=args.host)
        results = list(runner.run(cases, jobs=args.jobs, on_result=lambda r: _print_result(r, args.quiet, args.verbose)))
    finally:
        if launched is not None:
            launched.stop()
    passed, failed, skipped = summary(results)
    by_rule = Counter(r.case.rule_id for r in results if r.outcome == FAIL)
    if by_rule:
        print("failures by rule: " + ", ".join(f"{rule}: {n}" for rule, n in sorted(by_rule.items(), key=lambda x: str(x[0]))))
    print(summary_line(passed, failed, skipped))
    return 1 if failed else 0
