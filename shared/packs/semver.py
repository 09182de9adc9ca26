"""Semantic versions (semver.org 2.0.0) and the engine constraints manifests declare.

A manifest says which engines can read it, ``engine: ">=1.0.0,<2.0.0"``, the way a Suricata rule
set states its minimum Suricata version: a pack using a keyword added in engine 1.3 says
``>=1.3.0`` and an older data plane refuses it at load instead of misreading it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
_CLAUSE = re.compile(r"^\s*(>=|<=|==|!=|>|<|=)?\s*(\S+)\s*$")


@dataclass(frozen=True, slots=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...] = ()
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        m = _SEMVER.match(text)
        if m is None:
            raise ValueError(f"expected a semantic version such as 1.2.0, got {text!r}")
        pre = tuple(int(p) if p.isdigit() else p for p in m.group(4).split(".")) if m.group(4) else ()
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3)), pre, text)

    def key(self) -> tuple:
        # semver 11: a pre-release sorts before its release; numeric identifiers before alphanumeric
        pre = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)

    def __lt__(self, other: Version) -> bool:
        return self.key() < other.key()

    def __le__(self, other: Version) -> bool:
        return self.key() <= other.key()

    def __str__(self) -> str:
        return self.text or f"{self.major}.{self.minor}.{self.patch}"


def is_version(text: str) -> bool:
    return _SEMVER.match(text) is not None


def satisfies(version: str, constraint: str) -> bool:
    """``satisfies("1.4.0", ">=1.0.0,<2.0.0")``; raises ValueError for a malformed constraint."""
    v = Version.parse(version).key()
    for clause in constraint.split(","):
        m = _CLAUSE.match(clause)
        if m is None or not clause.strip():
            raise ValueError(f"expected a constraint such as '>=1.0.0,<2.0.0', got {constraint!r}")
        op, bound = m.group(1) or "==", Version.parse(m.group(2)).key()
        ok = {">=": v >= bound, "<=": v <= bound, ">": v > bound, "<": v < bound,
              "==": v == bound, "=": v == bound, "!=": v != bound}[op]
        if not ok:
            return False
    return True


def check_constraint(constraint: str) -> None:
    satisfies("0.0.0", constraint)
