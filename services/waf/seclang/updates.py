"""Changing rules after they are defined: SecRuleRemoveBy*, SecRuleUpdateTargetBy*, SecRuleUpdateActionById.

These are how CRS users tune the rule set without editing it (CRS's RESPONSE-999 / REQUEST-900
exclusion files): they run at load time, after the rules they name, and act on the chain starter
as ModSecurity does. Rules are immutable once built, so an update builds a replacement rule and
puts it in the place of the old one (the evaluation order is unchanged).

ModSecurity v2 matches SecRuleRemoveByTag / ByMsg and SecRuleUpdateTargetByTag / ByMsg as
regular expressions against each tag / the msg; we do the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from services.waf.engine.rule import Marker, Rule, Selector, Target
from services.waf.seclang.builder import ConfigBuilder
from services.waf.seclang.source import Directive, Token
from services.waf.seclang.targets import parse_target_list
from services.waf.transformations import lookup

RulePredicate = Callable[[Rule], bool]


def id_predicate(tokens: list[Token]) -> RulePredicate:
    """Rule ids and ``low-high`` ranges, blank- or comma-separated, across one or more arguments."""
    ranges: list[tuple[int, int]] = []
    for token in tokens:
        for piece in token.text.replace(",", " ").split():
            low, dash, high = piece.partition("-")
            if not low.isdigit() or (dash and not high.isdigit()):
                raise token.error(0, f"invalid rule id or range {piece!r}; expected e.g. 942100 or 942100-942199")
            ranges.append((int(low), int(high) if dash else int(low)))
    if not ranges:
        raise tokens[0].error(0, "expected at least one rule id")
    return lambda rule: any(low <= rule.id <= high for low, high in ranges)


def regex_predicate(token: Token, field: str) -> RulePredicate:
    try:
        pattern = re.compile(token.text)
    except re.error as exc:
        raise token.error(0, f"invalid regular expression: {exc}") from exc
    if field == "tag":
        return lambda rule: any(pattern.search(tag) for tag in rule.tags)
    return lambda rule: rule.msg is not None and pattern.search(rule.msg.text) is not None


def _starters(builder: ConfigBuilder) -> list[Rule]:
    seen: dict[int, Rule] = {}
    for entries in builder.phases.values():
        for entry in entries:
            if isinstance(entry, Rule):
                seen.setdefault(id(entry), entry)
    return list(seen.values())


def remove_rules(builder: ConfigBuilder, predicate: RulePredicate) -> int:
    removed: set[int] = set()
    for phase, entries in builder.phases.items():
        kept: list[Rule | Marker] = []
        for entry in entries:
            if isinstance(entry, Rule) and predicate(entry):
                removed.add(entry.id)
            else:
                kept.append(entry)
        builder.phases[phase] = kept
    for rule_id in removed:
        builder.ids.pop(rule_id, None)
    return len(removed)


def replace_rule(builder: ConfigBuilder, old: Rule, new: Rule) -> None:
    for entries in builder.phases.values():
        for index, entry in enumerate(entries):
            if entry is old:
                entries[index] = new


def update_targets(builder: ConfigBuilder, d: Directive, predicate: RulePredicate) -> int:
    added, exclusions = parse_target_list(d.args[1], allow_only_exclusions=True)
    replaced = d.args[2].text.upper() if len(d.args) > 2 else None
    count = 0
    for rule in _starters(builder):
        if not predicate(rule):
            continue
        targets = list(rule.targets)
        if replaced is not None:
            at = next((i for i, t in enumerate(targets) if t.text.upper() == replaced), None)
            if at is None:
                raise d.args[2].error(0, f"rule {rule.id} has no target {d.args[2].text!r} to replace")
            targets[at : at + 1] = list(added)
        else:
            targets.extend(added)
        replace_rule(builder, rule, replace(rule, targets=tuple(_exclude(t, exclusions) for t in targets)))
        count += 1
    return count


def _exclude(target: Target, exclusions: dict[str, list[Selector]]) -> Target:
    extra = exclusions.get(target.variable.name)
    if not extra:
        return target
    return replace(target, exclusions=target.exclusions + tuple(extra))


def update_actions(builder: ConfigBuilder, d: Directive, predicate: RulePredicate) -> int:
    draft, chain_token = builder.apply_actions(d.args[1], link=False, default=False)
    for forbidden, what in (("id", "the id"), ("phase", "the phase"), ("chain", "the chain")):
        if forbidden in draft.seen:
            raise d.args[1].error(0, f"SecRuleUpdateActionById cannot change {what} of a rule")
    count = 0
    for rule in _starters(builder):
        if not predicate(rule):
            continue
        changes: dict[str, object] = {}
        if "t" in draft.seen:
            names = tuple(draft.transforms) if draft.transforms_reset else rule.transform_names + tuple(draft.transforms)
            changes["transform_names"] = names
            changes["transforms"] = tuple(lookup(n).func for n in names)  # type: ignore[union-attr]
        if draft.disruptive is not None:
            disruptive = draft.disruptive
            if disruptive == "block":
                default = builder.defaults.get(rule.phase)
                disruptive = default.disruptive if default is not None and default.disruptive else "pass"
            changes["disruptive"] = disruptive
        for name in ("msg", "logdata", "severity", "ver", "rev", "maturity", "accuracy", "status",
                     "redirect_url", "log", "auditlog", "skip_after"):
            value = getattr(draft, name)
            if value is not None:
                changes[name] = value
        if draft.tags:
            changes["tags"] = tuple(draft.tags)
        if draft.capture:
            changes["capture"] = True
        if draft.multi_match:
            changes["multi_match"] = True
        if draft.skip:
            changes["skip"] = draft.skip
        if draft.runtime:
            changes["runtime"] = rule.runtime + tuple(draft.runtime)
        replace_rule(builder, rule, replace(rule, **changes))  # type: ignore[arg-type]
        count += 1
    return count
