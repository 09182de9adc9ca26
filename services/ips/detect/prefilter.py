"""The multi-pattern prefilter: one Hyperscan database per inspection slot, over fast patterns.

Like Suricata's MPM (``util-mpm-hs.c``), the prefilter only narrows the candidate rules: each
rule's ``fast_pattern`` content is searched in one database per slot (the TCP stream, packet
payloads, and each app-layer buffer such as ``http.uri``), and a rule is inspected in full only
when its fast pattern was seen. Rules without a usable fast pattern (no content, a negated or
transformed one) are "always" candidates of their slot, as Suricata's non-MPM rule list.

Rules sharing a fast pattern share one Hyperscan pattern (ET Open has thousands of rules on
``User-Agent|3a 20|``-like strings), so a hit costs one callback whatever the number of rules.
The TCP stream slot is compiled in stream mode: a fast pattern split across segments is found.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.ips.detect.classify import PAYLOAD, Kind
from services.ips.signatures.model import Signature
from shared.matching import MatchDatabase, Pattern, PatternFlag, compile_patterns

STREAM_SLOT = "stream"
PACKET_SLOT = "packet"


@dataclass(frozen=True, slots=True)
class Slot:
    """Candidates for one place of inspection: ``database`` ids -> rule indices, plus ``always``."""

    name: str
    database: MatchDatabase | None
    rules_of: tuple[tuple[int, ...], ...]  # pattern id -> indices of the rules it stands for
    always: tuple[int, ...]  # rules inspected whenever the slot is

    def candidates(self, data: bytes) -> list[int]:
        out: list[int] = list(self.always)
        if self.database is not None and data:
            rules_of = self.rules_of
            for pid in self.database.matched_ids(data):
                out.extend(rules_of[pid])
        return out


def _usable(sig: Signature, buffer: str) -> bool:
    fp = sig.fast_pattern
    return fp is not None and fp.buffer == buffer and bool(fp.pattern) and not fp.transforms


def payload_prefilter(sig: Signature) -> bool:
    """Whether the rule's fast pattern is a usable payload content (stream-database material)."""
    return _usable(sig, PAYLOAD)


def slot_of(sig: Signature, kind: Kind) -> str:
    if kind is Kind.STREAM:
        return STREAM_SLOT
    if kind is Kind.PACKET:
        return PACKET_SLOT
    if kind is Kind.APP:
        fp = sig.fast_pattern
        if fp is not None and fp.buffer != PAYLOAD and _usable(sig, fp.buffer):
            return fp.buffer
    return ""  # no slot: header rules, and app rules without a usable app-buffer fast pattern


def build_slot(
    name: str,
    members: Sequence[tuple[int, Signature]],
    *,
    stream: bool,
    cache_dir: Path | None,
    backend: str = "auto",
) -> tuple[Slot, float]:
    """Compile the slot's database; returns it with the compile (or cache load) time in seconds."""
    pattern_ids: dict[tuple[bytes, bool], int] = {}
    rules: list[list[int]] = []
    always: list[int] = []
    buffer = PAYLOAD if name in (STREAM_SLOT, PACKET_SLOT) else name
    for index, sig in members:
        if not _usable(sig, buffer):
            always.append(index)
            continue
        fp = sig.fast_pattern
        assert fp is not None
        key = (fp.pattern.lower() if fp.nocase else fp.pattern, fp.nocase)
        pid = pattern_ids.get(key)
        if pid is None:
            pid = pattern_ids[key] = len(rules)
            rules.append([])
        rules[pid].append(index)
    started = time.perf_counter()
    database = None
    if pattern_ids:
        flags_base = PatternFlag.LITERAL | PatternFlag.SINGLEMATCH
        patterns = [
            Pattern(pid, pattern, flags_base | (PatternFlag.CASELESS if nocase else PatternFlag(0)))
            for (pattern, nocase), pid in pattern_ids.items()
        ]
        database = compile_patterns(patterns, backend=backend, mode="stream" if stream else "block", cache_dir=cache_dir)
    elapsed = time.perf_counter() - started
    return Slot(name, database, tuple(tuple(r) for r in rules), tuple(sorted(always))), elapsed
