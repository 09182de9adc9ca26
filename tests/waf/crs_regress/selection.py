"""Which CRS 3.3 regression tests the CI smoke suite runs, and where they live.

Every rule file contributes: up to ``PER_FILE`` tests, spread evenly over the file (first, middle,
last, ...), so each rule's positive and negative cases are sampled and a regression anywhere in
CRS shows up. The choice is deterministic (same tests every run) and follows the data: a new test
file is picked up without editing this module.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from services.waf.regress.model import TestCase, load_dir

REPO = Path(__file__).resolve().parents[3]
# CI has a copy of shared/ beside the clone (as on the development machines).
SUITE_DIR = REPO.parent / "shared" / "crs-3.3-tests"
KNOWN_FAILURES = Path(__file__).with_name("known_failures.yaml")
PER_FILE = 3


def spread(items: list[TestCase], n: int) -> list[TestCase]:
    """``n`` items evenly spaced over ``items``, first and last included, order kept."""
    if len(items) <= n:
        return list(items)
    if n == 1:
        return [items[0]]
    step = (len(items) - 1) / (n - 1)
    return [items[round(i * step)] for i in range(n)]


def select_smoke(cases: list[TestCase], per_file: int = PER_FILE) -> list[TestCase]:
    by_file: dict[Path, list[TestCase]] = defaultdict(list)
    for case in cases:
        by_file[case.file].append(case)
    chosen: list[TestCase] = []
    for path in sorted(by_file):
        chosen += spread(by_file[path], per_file)
    return chosen


def smoke_cases() -> list[TestCase]:
    """The smoke selection, or [] when the suite folder is absent (the tests then skip, saying why)."""
    if not SUITE_DIR.is_dir():
        return []
    return select_smoke(load_dir(SUITE_DIR))
