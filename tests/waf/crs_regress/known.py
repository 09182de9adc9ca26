"""Reads ``known_failures.yaml`` (written by ``refresh.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.waf.crs_regress.selection import KNOWN_FAILURES


@dataclass(frozen=True, slots=True)
class KnownFailure:
    test: str
    rule: int | None
    reason: str


def load_known_failures(path: Path = KNOWN_FAILURES) -> dict[str, KnownFailure]:
    if not path.exists():
        return {}
    doc = yaml.safe_load(path.read_text()) or {}
    out: dict[str, KnownFailure] = {}
    for i, e in enumerate(doc.get("failures") or []):
        if not isinstance(e, dict) or not e.get("test") or not e.get("reason"):
            raise ValueError(f"{path}: failures[{i}]: needs test and reason (regenerate with refresh.py)")
        out[str(e["test"])] = KnownFailure(str(e["test"]), e.get("rule"), str(e["reason"]))
    return out
