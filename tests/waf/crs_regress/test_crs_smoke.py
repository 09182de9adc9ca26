"""CRS 3.3 smoke suite: ~400 regression tests (up to 3 per rule file) through the real WAF over HTTP.

One pytest id per regression test. Overrides (services/waf/regress/overrides.yaml) skip with their
reason; tests in known_failures.yaml are xfail (not strict) with the recorded reason, so fixes show
as XPASS until ``python -m tests.waf.crs_regress.refresh`` drops them. Any other failure fails CI.
"""

from __future__ import annotations

import pytest

from services.waf.regress.model import TestCase
from services.waf.regress.runner import PASS, SKIP, Runner
from tests.waf.crs_regress.known import load_known_failures
from tests.waf.crs_regress.selection import SUITE_DIR, smoke_cases

CASES = smoke_cases()
KNOWN = load_known_failures()

# Setup of the first test includes starting the WAF and, on a cold cache, compiling CRS at PL4.
pytestmark = pytest.mark.timeout(300)


@pytest.mark.skipif(not CASES, reason=f"CRS 3.3 regression tests not found at {SUITE_DIR}")
@pytest.mark.parametrize("case", CASES or [None], ids=[c.title for c in CASES] or ["no-suite"])
def test_crs_regression(case: TestCase, crs_runner: Runner, request: pytest.FixtureRequest) -> None:
    known = KNOWN.get(case.title)
    if known is not None:
        request.applymarker(pytest.mark.xfail(reason=f"known failure (rule {known.rule}): {known.reason}",
                                              strict=False))
    result = crs_runner.run_case(case)
    if result.outcome == SKIP:
        pytest.skip("; ".join(result.reasons))
    assert result.outcome == PASS, f"{case.title} ({case.file.name}): " + "; ".join(result.reasons)


def test_known_failures_name_real_tests() -> None:
    """A stale entry (renamed test, wrong id) would silently xfail nothing; catch it here."""
    if not CASES:
        pytest.skip(f"CRS 3.3 regression tests not found at {SUITE_DIR}")
    from services.waf.regress.model import load_dir

    titles = {c.title: c.rule_id for c in load_dir(SUITE_DIR)}
    for name, known in KNOWN.items():
        assert name in titles, f"known_failures.yaml lists {name}, which is not a CRS 3.3 test"
        assert known.rule == titles[name], f"{name}: rule {known.rule} recorded, the test is for {titles[name]}"
