"""Grouping: one row per distinct (rule, source), with its count and first and last seen.

A scanner firing one rule 10,000 times from one address is one row to an analyst, as in EveBox's
"aggregate" inbox or Kibana's terms split. ``GET /v1/alerts/groups?by=rule,source`` ::

    {"by": ["rule", "source"], "groups": [
        {"key": {"rule_id": "942100", "source_ip": "198.51.100.7"}, "rule_name": "SQL Injection ...",
         "count": 10000, "first_seen": "2026-11-27T16:00:00.000Z", "last_seen": "2026-11-27T17:02:59.120Z"}]}

Groups are ordered by count, largest first. An alert lacking one of the grouped fields (an AV alert
with no source address grouped by source) is in no group, in both backends: OpenSearch's
``terms`` / ``multi_terms`` aggregations skip documents missing a field, and SQLite's query drops
NULLs to agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.stores.errors import QueryParamError

MAX_GROUP_FIELDS = 3
MAX_GROUPS = 1000


@dataclass(frozen=True, slots=True)
class GroupField:
    name: str         # as in ?by=
    key: str          # key in the answer
    column: str       # SQLite column
    field: str        # OpenSearch field


GROUP_FIELDS: dict[str, GroupField] = {f.name: f for f in (
    GroupField("rule", "rule_id", "rule_id", "rule.id"),
    GroupField("source", "source_ip", "source_ip", "source.ip"),
    GroupField("target", "service_name", "service_name", "service.name"),
    GroupField("vpc", "vpc_id", "vpc_id", "vpc.id"),
    GroupField("module", "module", "module", "event.module"),
    GroupField("action", "action", "action", "event.action"),
    GroupField("severity", "severity", "severity", "event.severity"),
    GroupField("tenant", "tenant_id", "tenant_id", "tenant.id"),
)}


def parse_group_by(value: str) -> tuple[GroupField, ...]:
    names = [n.strip() for n in value.split(",")]
    if not value.strip() or any(not n for n in names):
        raise QueryParamError("by", f"expected field names separated by commas, such as rule,source; got {value!r}")
    unknown = [n for n in names if n not in GROUP_FIELDS]
    if unknown:
        raise QueryParamError("by", f"unknown field {unknown[0]!r}; expected one of {', '.join(GROUP_FIELDS)}")
    if len(set(names)) != len(names):
        raise QueryParamError("by", "names a field twice")
    if len(names) > MAX_GROUP_FIELDS:
        raise QueryParamError("by", f"at most {MAX_GROUP_FIELDS} fields")
    return tuple(GROUP_FIELDS[n] for n in names)


@dataclass(frozen=True, slots=True)
class AlertGroups:
    """``groups``: dicts with ``key`` (one entry per grouped field), ``count``, ``first_seen``,
    ``last_seen`` and, when grouped by rule, ``rule_name`` (that of the group's latest alert)."""

    by: tuple[str, ...]
    groups: list[dict[str, object]]
