"""Tests that cannot apply to secchain, each with its reason (``overrides.yaml`` beside this module).

Kept small on purpose: an override is a claim that the test checks something outside the WAF's
contract (a web server's own behaviour), never a way to hide an engine bug; engine failures belong
in the known-failures list of the CI smoke suite, which shrinks as the engine improves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_OVERRIDES = Path(__file__).with_name("overrides.yaml")


class OverridesError(ValueError):
    """The overrides file is malformed."""


@dataclass(frozen=True, slots=True)
class Overrides:
    skip: dict[str, str]  # test title -> reason

    def reason(self, title: str) -> str | None:
        return self.skip.get(title)


def load_overrides(path: Path = DEFAULT_OVERRIDES) -> Overrides:
    """``{tests: [{test: TITLE, reason: TEXT}, ...]}``; every entry must give a reason."""
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise OverridesError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise OverridesError(f"{path}: invalid YAML: {exc}") from exc
    entries = (doc or {}).get("tests") or []
    if not isinstance(entries, list):
        raise OverridesError(f"{path}: tests: expected a list")
    skip: dict[str, str] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not e.get("test") or not str(e.get("reason") or "").strip():
            raise OverridesError(f"{path}: tests[{i}]: each entry needs 'test' and a non-empty 'reason'")
        skip[str(e["test"])] = " ".join(str(e["reason"]).split())
    return Overrides(skip)
