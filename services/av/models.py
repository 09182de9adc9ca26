"""Scan verdicts as the API returns them; shared by the service and :class:`~services.av.client.AvClient`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

Verdict = Literal["clean", "infected", "error"]
Engine = Literal["clamav", "yara", "heuristic"]
VERDICTS: tuple[str, ...] = ("clean", "infected", "error")

# The archive walker's own verdict when a zip/gzip/tar breaks a limit (depth, members, expanded
# size, ratio). It is reported as an infection, like ClamAV's Heuristics.Limits.Exceeded with
# AlertExceedsMax, because an upload that cannot be inspected must not pass as clean.
ARCHIVE_BOMB = "Secchain.Heuristic.ArchiveBomb"


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    engine: Engine
    ruleset: str
    member: str | None = None  # archive member path the YARA rule matched in, if not the file itself

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name, "engine": self.engine, "ruleset": self.ruleset}
        if self.member is not None:
            doc["member"] = self.member
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Signature:
        return cls(name=doc["name"], engine=doc["engine"], ruleset=doc["ruleset"], member=doc.get("member"))


@dataclass(frozen=True, slots=True)
class ScanResult:
    verdict: Verdict
    sha256: str
    size: int
    duration_ms: float
    signatures: tuple[Signature, ...] = ()
    cached: bool = False
    ruleset: str = ""
    reason: str | None = None  # why the verdict is "error" (clamd down, timeout...)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def infected(self) -> bool:
        return self.verdict == "infected"

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.signatures]

    def as_cached(self, duration_ms: float) -> ScanResult:
        return replace(self, cached=True, duration_ms=duration_ms)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "verdict": self.verdict,
            "signatures": [s.to_dict() for s in self.signatures],
            "sha256": self.sha256,
            "size": self.size,
            "duration_ms": round(self.duration_ms, 3),
            "cached": self.cached,
            "ruleset": self.ruleset,
        }
        if self.reason is not None:
            doc["reason"] = self.reason
        if self.notes:
            doc["notes"] = list(self.notes)
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ScanResult:
        verdict = doc.get("verdict")
        if verdict not in VERDICTS:
            raise ValueError(f"scan response has verdict {verdict!r}, expected one of {', '.join(VERDICTS)}")
        return cls(
            verdict=verdict,
            sha256=doc.get("sha256", ""),
            size=int(doc.get("size", 0)),
            duration_ms=float(doc.get("duration_ms", 0.0)),
            signatures=tuple(Signature.from_dict(s) for s in doc.get("signatures", [])),
            cached=bool(doc.get("cached", False)),
            ruleset=doc.get("ruleset", ""),
            reason=doc.get("reason"),
            notes=tuple(doc.get("notes", [])),
        )
