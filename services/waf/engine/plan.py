"""Execution plan: what a phase runs, with skip targets and fast link matchers resolved at load.

CRS spends most of a request in bookkeeping rather than matching: every rule file opens with
paranoia-level gates (``SecRule TX:EXECUTING_PARANOIA_LEVEL "@lt 2" "...,skipAfter:END-..."``),
so at PL1 a request walks ~840 entries, evaluates ~240 rules and ~190 of those are TX
comparisons. The plan removes the per-entry overhead that does not depend on the request:

* ``skipAfter`` targets are resolved to an index once, so a matched gate jumps straight past the
  rules it skips instead of visiting each of them (ModSecurity walks them comparing each entry
  with the marker name). SecMarkers themselves are not steps: they only matter as jump targets,
  and ``skip:N`` does not count them.
* Each link of a chain gets, where its shape allows, a specialised matcher: a closure with the
  target's static parts (key, MATCHED_VAR_NAME prefix) and a constant numeric operand bound in,
  for TX lookups (``TX:foo``), counts (``&TX:foo``, any lookup collection) and SecAction. The
  paranoia-level gate shape (``TX:key`` against a constant, no transformation, no chain) is
  reduced to a tuple the phase loop evaluates without any call. Anything else, or any
  transaction with a ``ctl:ruleRemoveTarget*`` in effect, goes through the transaction's general
  evaluation. A fast matcher returns exactly what the general path returns and sets MATCHED_VAR
  / MATCHED_VAR_NAME the same way (``tests/waf/engine/test_plan.py`` compares them, and
  ``tests/waf/crs/test_crs_regression.py`` does on CRS).
* Targets over variables a phase cannot change (:data:`prefilter.STABLE`) get a canonical key,
  so the transaction reads ``ARGS`` or ``REQUEST_HEADERS:User-Agent`` once per phase.
"""

from __future__ import annotations

import operator as operator_module
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.waf.engine.prefilter import STABLE, target_key
from services.waf.engine.rule import Marker, Rule
from services.waf.operators._numeric import NumericOperator
from services.waf.operators.base import c_atoi
from services.waf.operators.no_match import NoMatch
from services.waf.operators.unconditional_match import UnconditionalMatch

if TYPE_CHECKING:
    from services.waf.engine.transaction import Transaction

Pairs = list[tuple[str, str]]
LinkMatcher = Callable[["Transaction"], Pairs]


@dataclass(frozen=True, slots=True)
class Step:
    """One rule (chain starter) of a phase, in ModSecurity's order."""

    rule: Rule
    links: tuple[tuple[Rule, LinkMatcher | None], ...]  # every link with its fast matcher, if any
    fast: LinkMatcher | None  # the fast matcher of a rule without chain, run inline by the phase loop
    single: bool  # no chain: the phase loop evaluates it inline
    # (key, compare, operand, negated) of a ``TX:key "@lt N"`` rule without chain or
    # transformations -- the paranoia-level gate -- which the phase loop evaluates without a call
    gate: tuple[str, Callable[[int, int], bool], int, bool] | None
    jump: int  # where evaluation continues after a match with skipAfter
    slot: tuple[int, int] | None  # (prefilter group, member) or None


@dataclass(frozen=True, slots=True)
class Plan:
    phases: Mapping[int, tuple[Rule | Marker, ...]]  # what it was built from (identity checked)
    group_of: Mapping[int, tuple[int, int]]
    steps: Mapping[int, tuple[Step, ...]]
    # id(Target) -> a key shared by every equal target over variables that cannot change during a
    # phase (prefilter.STABLE): the transaction reads such a target once per phase, not once per rule
    stable_targets: Mapping[int, int]


def build_plan(
    phases: Mapping[int, tuple[Rule | Marker, ...]],
    group_of: Mapping[int, tuple[int, int]],
    *,
    specialise: bool = True,
) -> Plan:
    """The plan of a frozen rule set; ``specialise=False`` leaves every link to the general path
    (the reference the fast matchers are tested against)."""
    steps: dict[int, tuple[Step, ...]] = {}
    stable: dict[int, int] = {}
    canonical: dict[tuple[object, ...], int] = {}
    for phase, entries in phases.items():
        rules = [e for e in entries if isinstance(e, Rule)]
        # entry position -> number of rules before it, to turn "first entry after X" into a step index
        rule_index: list[int] = []
        count = 0
        for entry in entries:
            rule_index.append(count)
            if isinstance(entry, Rule):
                count += 1
        out: list[Step] = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, Rule):
                continue
            for link in entry.links():
                for target in link.targets:
                    if target.variable.name in STABLE:
                        stable[id(target)] = canonical.setdefault(target_key(target), len(canonical))
            jump = len(rules)
            if entry.skip_after:
                jump = _jump(entries, rule_index, index, entry.skip_after, len(rules))
            links = tuple((link, compile_link(link) if specialise else None) for link in entry.links())
            out.append(
                Step(
                    rule=entry,
                    links=links,
                    fast=links[0][1] if len(links) == 1 else None,
                    single=len(links) == 1,
                    gate=_gate(entry) if specialise and len(links) == 1 else None,
                    jump=jump,
                    slot=group_of.get(id(entry)),
                )
            )
        steps[phase] = tuple(out)
    return Plan(phases=phases, group_of=group_of, steps=steps, stable_targets=stable)


def _jump(entries: tuple[Rule | Marker, ...], rule_index: list[int], start: int, target: str, end: int) -> int:
    """Step index after the first SecMarker named ``target`` (or rule with that id) after ``start``.

    A rule id target is itself skipped, a marker is not a step; with no such entry the rest of
    the phase is skipped, as the entry-by-entry walk would do.
    """
    numeric = int(target) if target.isascii() and target.isdigit() else None
    for index in range(start + 1, len(entries)):
        entry = entries[index]
        if isinstance(entry, Marker):
            if entry.name == target:
                return rule_index[index]
        elif numeric is not None and entry.id == numeric:
            return rule_index[index] + 1
    return end


def _gate(rule: Rule) -> tuple[str, Callable[[int, int], bool], int, bool] | None:
    """``(key, compare, operand, negated)`` for ``SecRule TX:key "@op N"`` (no transformation)."""
    operator = rule.operator
    if compile_link(rule) is None or rule.transforms or len(rule.targets) != 1:
        return None
    target = rule.targets[0]
    if target.variable.name != "TX" or target.count or target.selector is None or target.selector.key is None:
        return None
    if not isinstance(operator, NumericOperator) or operator.constant is None:
        return None
    return (target.selector.key, _COMPARE.get(operator.name, operator.test), operator.constant, rule.negated)


def compile_link(rule: Rule) -> LinkMatcher | None:
    """A specialised matcher for ``rule`` (one link), or None when only the general path applies."""
    if rule.multi_match:
        return None
    operator, negated = rule.operator, rule.negated
    if not rule.targets:
        if isinstance(operator, (UnconditionalMatch, NoMatch)):
            matches = isinstance(operator, UnconditionalMatch) != negated
            if matches:
                return _always
            return _never
        return None
    if len(rule.targets) != 1:
        return _tx_targets(rule)
    target = rule.targets[0]
    variable, selector = target.variable, target.selector
    if (
        variable.lookup is None
        or variable.select is not None
        or selector is None
        or selector.regex is not None
        or selector.key is None
        or target.exclusions
    ):
        return None
    key = selector.key
    if isinstance(operator, NumericOperator) and operator.constant is not None:
        test = _numeric_test(operator, negated)
    else:
        evaluate, capture = operator.evaluate, rule.capture

        def test(tx: Transaction, value: str) -> bool:
            return evaluate(tx, value, capture) != negated

    transforms = bool(rule.transforms)
    if target.count:
        name = f"{variable.name}:{target.text.split(':', 1)[1]}"
        lookup = variable.lookup
        is_tx = variable.name == "TX"

        def count(tx: Transaction) -> Pairs:
            state = tx.state
            if is_tx:
                raw = "1" if key in state.tx else "0"
            else:
                raw = str(len(lookup(state, key)))  # type: ignore[misc]
            value = tx._transform(rule, raw) if transforms else raw
            if not test(tx, value):
                return []
            state.matched_var_name, state.matched_var = name, value
            return [(name, value)]

        return count
    if variable.name == "TX":
        prefix = "TX:"
        if isinstance(operator, NumericOperator) and operator.constant is not None and not transforms:
            # the paranoia-level gates: one dict read and one integer comparison
            compare, operand = _COMPARE.get(operator.name, operator.test), operator.constant

            def tx_number(tx: Transaction) -> Pairs:
                state = tx.state
                value = state.tx.get(key)
                if value is None:
                    return []
                number = int(value) if value.isdigit() and value.isascii() else c_atoi(value)
                if compare(number, operand) == negated:
                    return []
                name = prefix + state.tx_names.get(key, key)
                state.matched_var_name, state.matched_var = name, value
                return [(name, value)]

            return tx_number

        def tx_value(tx: Transaction) -> Pairs:
            state = tx.state
            raw = state.tx.get(key)
            if raw is None:
                return []
            value = tx._transform(rule, raw) if transforms else raw
            if not test(tx, value):
                return []
            name = prefix + state.tx_names.get(key, key)
            state.matched_var_name, state.matched_var = name, value
            return [(name, value)]

        return tx_value
    return None  # other lookups (IP, GLOBAL...) are rare on the hot path


# the C implementations of the numeric operators' comparisons (same truth table, no Python frame)
_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "eq": operator_module.eq,
    "ge": operator_module.ge,
    "gt": operator_module.gt,
    "le": operator_module.le,
    "lt": operator_module.lt,
}


def _tx_targets(rule: Rule) -> LinkMatcher | None:
    """``&TX:a|TX:a "@eq 0"`` (CRS's exclusion-package switches): several TX keys or counts
    against a constant, one value each, evaluated in target order as the general path does."""
    operator, negated = rule.operator, rule.negated
    if not isinstance(operator, NumericOperator) or operator.constant is None or rule.capture:
        return None
    readers: list[tuple[str, bool, str]] = []  # (key, count, count label)
    for target in rule.targets:
        selector = target.selector
        if (
            target.variable.name != "TX"
            or selector is None
            or selector.regex is not None
            or selector.key is None
            or target.exclusions
        ):
            return None
        readers.append((selector.key, target.count, f"TX:{target.text.split(':', 1)[1]}"))
    test = _numeric_test(operator, negated)
    transforms = bool(rule.transforms)

    def tx_targets(tx: Transaction) -> Pairs:
        state = tx.state
        values, names = state.tx, state.tx_names
        matches: Pairs = []
        for key, count, label in readers:
            if count:
                name, raw = label, ("1" if key in values else "0")
            else:
                found = values.get(key)
                if found is None:
                    continue
                name, raw = "TX:" + names.get(key, key), found
            value = tx._transform(rule, raw) if transforms else raw
            if test(tx, value):
                matches.append((name, value))
        if matches:
            state.matched_var_name, state.matched_var = matches[-1]
        return matches

    return tx_targets


def _numeric_test(operator: NumericOperator, negated: bool) -> Callable[[Transaction, str], bool]:
    compare, operand = _COMPARE.get(operator.name, operator.test), operator.constant

    def test(tx: Transaction, value: str) -> bool:
        return compare(c_atoi(value), operand) != negated

    return test


def _always(tx: Transaction) -> Pairs:
    return [("", "")]


def _never(tx: Transaction) -> Pairs:
    return []
