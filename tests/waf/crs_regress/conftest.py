"""One upstream + WAF (CRS PL4, detection only, with a match log) for the whole session.

Compiled Hyperscan databases are kept in var/cache/crs-regress so a second run starts in seconds;
a cold start compiles CRS at PL4 (about a minute on the 2-core development machine).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.waf.regress.launcher import LaunchedWaf, launch
from services.waf.regress.matchlog import MatchLog
from services.waf.regress.overrides import load_overrides
from services.waf.regress.runner import Runner
from tests.waf.crs_regress.selection import REPO, SUITE_DIR

CACHE_DIR = REPO / "var" / "cache" / "crs-regress"


def _crs_missing() -> str | None:
    if not SUITE_DIR.is_dir():
        return f"CRS 3.3 regression tests not found at {SUITE_DIR} (shared/ beside the clone)"
    if not Path("/etc/modsecurity/crs/crs-setup.conf").is_file():
        return "OWASP CRS not installed (Debian package modsecurity-crs)"
    return None


@pytest.fixture(scope="session")
def crs_waf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedWaf]:
    missing = _crs_missing()
    if missing:
        pytest.skip(missing)
    work = tmp_path_factory.mktemp("crs-waf")
    waf = launch(paranoia=4, mode="detect", workers=1, cache_dir=CACHE_DIR, work_dir=work, timeout=280)
    try:
        yield waf
    finally:
        waf.stop()


@pytest.fixture(scope="session")
def crs_runner(crs_waf: LaunchedWaf) -> Runner:
    return Runner("127.0.0.1", crs_waf.port, MatchLog(crs_waf.match_log), overrides=load_overrides())
