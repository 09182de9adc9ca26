"""Prefilter groups: one Hyperscan scan per (phase, targets, transformations) instead of one per rule.

CRS evaluates a hundred-odd @rx / @pm rules per phase over the same variables with the same
transformations (``ARGS|ARGS_NAMES|REQUEST_COOKIES|... t:urlDecodeUni``). At load, rules whose
first link is a constant @rx or @pm, not negated, without multiMatch and reading only variables
that cannot change during a phase (request data, not TX or MATCHED_VAR) are grouped by phase,
target list and transformation chain; each group with at least two members gets one Hyperscan
database holding every member's patterns. During a phase the first member evaluated scans the
group's values once; a member whose patterns matched no value cannot match and is skipped, the
others are evaluated in full in ModSecurity's order, as before (Suricata's multi-pattern
prefilter does the same: the MPM only narrows candidate rules, full inspection confirms).

Skipping is exact as long as the group database and the rule's own database agree on "no match"
for a pattern: both are the same pattern with the same flags on the same matching core. Rules
whose pattern runs outside that core (the ``regex`` module fallback) are never grouped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.waf.engine.matcher import RX_FLAGS, RegexModuleDatabase
from services.waf.engine.rule import Marker, Rule, Target
from shared.matching import Pattern, PatternCompileError, PatternFlag, compile_patterns

if TYPE_CHECKING:
    from pathlib import Path

    from services.waf.engine.matcher import _Database

log = logging.getLogger("secchain.waf.engine")

# Variables whose values do not change between two rules of one phase.
STABLE = frozenset(
    {
        "ARGS", "ARGS_GET", "ARGS_POST", "ARGS_NAMES", "ARGS_GET_NAMES", "ARGS_POST_NAMES",
        "REQUEST_HEADERS", "REQUEST_HEADERS_NAMES", "REQUEST_COOKIES", "REQUEST_COOKIES_NAMES",
        "REQUEST_URI", "REQUEST_URI_RAW", "REQUEST_FILENAME", "REQUEST_BASENAME", "REQUEST_LINE",
        "REQUEST_METHOD", "REQUEST_PROTOCOL", "QUERY_STRING", "REQUEST_BODY", "XML", "FILES",
        "FILES_NAMES", "MULTIPART_PART_HEADERS", "RESPONSE_BODY", "RESPONSE_HEADERS",
        "RESPONSE_HEADERS_NAMES",
    }
)
MIN_MEMBERS = 2
# What can stop a pattern from matching a value once other values surround it: absolute anchors,
# inline flag changes (``(?-m)`` makes ``^`` absolute), lookarounds and backreferences (these
# also never run on Hyperscan alone). Matched conservatively on the pattern text. ``\b`` / ``\B``
# are safe: the newline between values is a non-word character, as the buffer's ends are.
_NOT_JOINABLE = re.compile(rb"\\[AZzG1-9k]|\(\?[a-zA-Z]*-|\(\?<?[=!]")


@dataclass(frozen=True, slots=True)
class PrefilterGroup:
    """Members share targets and transformations; ``owner[pattern_id]`` is a member index."""

    representative: Rule
    members: tuple[Rule, ...]
    database: _Database
    owner: tuple[int, ...]
    joinable: bool = False  # see _joinable: one scan of all values joined by newlines

    def candidates(self, buffers: list[bytes]) -> set[int]:
        owner = self.owner
        if self.joinable:
            return {owner[pattern_id] for pattern_id in self.database.matched_ids(b"\n".join(buffers))}
        hits: set[int] = set()
        for ids in self.database.scan_many(buffers):
            for pattern_id in ids:
                hits.add(owner[pattern_id])
        return hits


def target_key(target: Target) -> tuple[object, ...]:
    selector = target.selector
    return (
        target.variable.name,
        None if selector is None else (selector.text, selector.key, selector.regex and selector.regex.pattern),
        target.count,
        tuple((e.text, e.key, e.regex and e.regex.pattern) for e in target.exclusions),
    )


def _patterns(rule: Rule) -> list[tuple[bytes, PatternFlag]] | None:
    """The member's patterns as the group database compiles them, or None if it cannot join."""
    from services.waf.operators.pm import Pm
    from services.waf.operators.rx import Rx

    operator = rule.operator
    if isinstance(operator, Rx):
        if isinstance(operator.matcher.database, RegexModuleDatabase):
            return None
        return [(operator.matcher.pattern.encode("latin-1"), RX_FLAGS | PatternFlag.SINGLEMATCH)]
    if isinstance(operator, Pm):
        flags = PatternFlag.LITERAL | PatternFlag.CASELESS | PatternFlag.SINGLEMATCH
        return [(p.encode("latin-1"), flags) for p in operator.matcher.phrases]
    return None


def _eligible(rule: Rule) -> bool:
    if rule.negated or rule.multi_match or not rule.targets:
        return False
    return all(t.variable.name in STABLE and not t.count for t in rule.targets)


def _joinable(patterns: list[Pattern], database: _Database) -> bool:
    """Whether one scan of the values joined by ``\\n`` finds every member that a scan of each
    value finds (it may find more: a candidate is only evaluated in full, never trusted).

    Members are compiled with MULTILINE (``^`` / ``$`` also match next to a newline) or as
    literals, so a match inside one value is still a match inside the joined buffer unless the
    pattern anchors to the buffer's ends, changes flags inline or looks around; Hyperscan alone
    must run every pattern (no confirmation by another engine on the joined text).
    """
    for pattern in patterns:
        if database.path_of(pattern.id) != "hyperscan":
            return False
        if not pattern.flags & PatternFlag.LITERAL:
            if not pattern.flags & PatternFlag.MULTILINE or _NOT_JOINABLE.search(pattern.expression_bytes):
                return False
    return True


def build_groups(
    phases: Mapping[int, tuple[Rule | Marker, ...]], cache_dir: Path | None
) -> tuple[tuple[PrefilterGroup, ...], dict[int, tuple[int, int]]]:
    """(groups, ``id(rule)`` -> (group index, member index)) for a frozen rule set."""
    buckets: dict[tuple[object, ...], list[tuple[Rule, list[tuple[bytes, PatternFlag]]]]] = {}
    for phase, entries in phases.items():
        for entry in entries:
            if not isinstance(entry, Rule) or not _eligible(entry):
                continue
            patterns = _patterns(entry)
            if patterns is None:
                continue
            key = (phase, tuple(target_key(t) for t in entry.targets), entry.transform_names)
            buckets.setdefault(key, []).append((entry, patterns))
    groups: list[PrefilterGroup] = []
    slots: dict[int, tuple[int, int]] = {}
    for members in buckets.values():
        if len(members) < MIN_MEMBERS:
            continue
        patterns: list[Pattern] = []
        owner: list[int] = []
        for index, (_, rule_patterns) in enumerate(members):
            for expression, flags in rule_patterns:
                patterns.append(Pattern(len(patterns), expression, flags))
                owner.append(index)
        try:
            database = compile_patterns(patterns, cache_dir=cache_dir)
        except PatternCompileError as exc:  # the members keep their own databases
            log.warning("prefilter group of rules %s not built: %s", [r.id for r, _ in members], exc)
            continue
        group_index = len(groups)
        groups.append(
            PrefilterGroup(
                representative=members[0][0],
                members=tuple(r for r, _ in members),
                database=database,
                owner=tuple(owner),
                joinable=_joinable(patterns, database),
            )
        )
        for member_index, (rule, _) in enumerate(members):
            slots[id(rule)] = (group_index, member_index)
    return tuple(groups), slots
