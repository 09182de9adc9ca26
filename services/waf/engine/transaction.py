"""Transaction: one HTTP request's trip through the phases of a RuleSet.

Driven by the proxy phase by phase as ModSecurity's connectors drive libmodsecurity: request line,
request headers (phase 1), request body (phase 2), response headers (phase 3), response body
(phase 4: call ``process_response_body`` with the buffered body when ``wants_response_body`` is
true, else with ``b""``), logging (phase 5). Each ``process_*`` call returns the Intervention when
a rule interrupts the request under ``SecRuleEngine On``; under ``DetectionOnly`` rules are
evaluated and recorded but never interrupt.

Evaluation follows ModSecurity: per rule, every target value is transformed (cached per
transaction by value and transformation list), the operator runs, and on each match MATCHED_VAR is
updated and the link's non-disruptive actions (setvar, ctl, initcol, ...) run at once, before the
next link of a chain is evaluated; a chain matches when all its links match, and only then is it
logged and the chain starter's disruptive action considered. Rules in a prefilter group
(:mod:`services.waf.engine.prefilter`) whose patterns occur in none of the group's values are
skipped without evaluation. An exception inside one rule is logged and recorded in ``errors`` and
evaluation continues with the next rule: a bad rule must not turn into a crash of the request path.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from services.waf.actions.ctl import TargetRemoval
from services.waf.engine.bodies import process_body
from services.waf.engine.results import Intervention, MatchedRule
from services.waf.engine.rule import Rule, Target
from services.waf.operators.base import c_atoi
from services.waf.variables.args import parse_query
from services.waf.variables.base import RequestState, wire, wire_bytes
from services.waf.variables.body import processor_for
from services.waf.variables.cookies import parse_cookies
from services.waf.variables.request_line import split_target

if TYPE_CHECKING:
    from collections.abc import Sequence

    from services.waf.engine.plan import LinkMatcher
    from services.waf.engine.ruleset import RuleSet

log = logging.getLogger("secchain.waf.engine")

MATCHED_DATA_LIMIT = 512
INTERRUPTING = ("deny", "drop", "redirect")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
_CAPTURE_KEYS = tuple(str(index) for index in range(10))  # TX:0 .. TX:9
_NO_MATCHES: list[tuple[str, str]] = []  # shared, never mutated: MATCHED_VARS readers copy it
# Transformations are pure functions of (chain, value), and most request values recur across
# requests (Host, User-Agent, Accept..., common parameter values): results for short values are
# kept for every transaction of the process, per chain (prefix), each chain's dict cleared when
# full so memory stays bounded (dict operations are atomic under the GIL: threads may share it).
# Longer values are cached per transaction only, as ModSecurity v3 does. CRS 3.3 uses about 50
# chain prefixes, so the worst case (a flood of distinct values) stays in the tens of megabytes.
SHARED_TRANSFORM_MAX_VALUE = 160  # a typical User-Agent fits
SHARED_TRANSFORM_ENTRIES = 1024  # per chain (prefix)
_SHARED_TRANSFORMS: dict[tuple[str, ...], dict[str, str]] = {}
_SHARED_MULTI: dict[tuple[tuple[str, ...], str], tuple[str, ...]] = {}  # multiMatch (bounded in total)
_MULTI_ENTRIES = 8192


class Transaction:
    def __init__(
        self,
        ruleset: RuleSet,
        *,
        client_ip: str,
        client_port: int,
        server_ip: str,
        server_port: int,
        unique_id: str,
    ) -> None:
        self.ruleset = ruleset
        self.state = RequestState(
            remote_addr=client_ip,
            remote_port=client_port,
            server_addr=server_ip,
            server_port=server_port,
            unique_id=unique_id,
            started=time.time(),
        )
        self.engine_mode = ruleset.engine_mode
        self.body_access = ruleset.body_access
        self.force_body_variable = False  # ctl:forceRequestBodyVariable
        self.audit_engine: str | None = None  # ctl:auditEngine for this transaction (None: the site's setting)
        self.matched_rules: list[MatchedRule] = []
        self.intervention: Intervention | None = None
        self.errors: list[str] = []
        self.ctl_log: list[tuple[str, str]] = []
        self._removed_ids: list[tuple[int, int]] = []
        self._removed_tags: set[str] = set()
        self._removed_msgs: list[str] = []
        self._removed_targets: list[TargetRemoval] = []
        self._removing = False  # any ctl:ruleRemoveById/ByTag/ByMsg so far (checked per rule)
        self._allow_all = False
        self._allow_request = False
        # chain (prefix) -> raw -> value, for values longer than SHARED_TRANSFORM_MAX_VALUE
        self._cache: dict[tuple[str, ...], dict[str, str]] = {}
        # prefilter group -> members with a candidate; a group belongs to one phase and its
        # variables do not change during that phase, so one scan per transaction suffices
        self._group_hits: dict[int, set[int]] = {}
        # canonical stable target (engine/plan.py) -> its pairs, for the phase being run
        self._reads: dict[int, list[tuple[str, str]]] = {}
        self._stable = ruleset.plan.stable_targets  # type: ignore[union-attr]

    # -- public phase API ----------------------------------------------------------------------
    def process_request_line(self, method: str, uri: str, protocol: str) -> None:
        state = self.state
        state.method = wire(method)
        state.protocol = wire(protocol)
        state.uri_raw = wire(uri)
        state.uri, state.filename, state.query_string = split_target(state.uri_raw)
        state.args_get = parse_query(state.query_string)

    def process_request_headers(self, headers: Sequence[tuple[str, str]]) -> Intervention | None:
        state = self.state
        state.headers = [(wire(k), wire(v)) for k, v in headers]
        state.cookies = parse_cookies(state.headers)
        content_type = next((v for k, v in state.headers if k.lower() == "content-type"), "")
        state.body_processor = processor_for(content_type) or ""
        return self._run_phase(1)

    def process_request_body(self, body: bytes) -> Intervention | None:
        if self.intervention is not None:
            return self.intervention
        if self.body_access and self.engine_mode != "Off":
            refusal = process_body(
                self.ruleset, self.state, wire_bytes(body), self.engine_mode == "On", self.force_body_variable
            )
            if refusal is not None:
                return self._intervene(Intervention(status=413, rule_id=0, action="deny", msg=refusal.message))
            if self.state.reqbody_error:
                self.errors.append(f"request body: {self.state.reqbody_error_msg}")
        return self._run_phase(2)

    def process_response_headers(
        self, status: int, headers: Sequence[tuple[str, str]], protocol: str = "HTTP/1.1"
    ) -> Intervention | None:
        if self.intervention is not None:
            return self.intervention
        self.state.response_status = status
        self.state.response_protocol = protocol
        self.state.response_headers = [(wire(k), wire(v)) for k, v in headers]
        return self._run_phase(3)

    @property
    def wants_response_body(self) -> bool:
        """Whether phase 4 inspects this response's body: SecResponseBodyAccess On and the
        response's media type listed in SecResponseBodyMimeType (ModSecurity buffers only then)."""
        if not self.ruleset.response_body_access:
            return False
        content_type = next((v for k, v in self.state.response_headers if k.lower() == "content-type"), "")
        media = content_type.split(";", 1)[0].strip().lower()
        return media in self.ruleset.response_mime_types

    def process_response_body(self, body: bytes) -> Intervention | None:
        if self.intervention is not None:
            return self.intervention
        if self.wants_response_body and self.engine_mode != "Off":
            limit = self.ruleset.response_body_limit
            if len(body) > limit:
                if self.ruleset.response_body_limit_action == "Reject" and self.engine_mode == "On":
                    return self._intervene(
                        Intervention(
                            status=500,
                            rule_id=0,
                            action="deny",
                            msg=f"Response body ({len(body)} bytes) exceeds SecResponseBodyLimit ({limit} bytes)",
                        )
                    )
                body = body[:limit]
            self.state.response_body = wire_bytes(body)
        return self._run_phase(4)

    def process_logging(self) -> None:
        self._run_phase(5)

    @property
    def anomaly_score(self) -> int:
        tx = self.state.tx
        for name in ("anomaly_score", "blocking_inbound_anomaly_score"):
            if name in tx:
                return c_atoi(tx[name])
        return 0

    # -- runtime-action hooks (services.waf.engine.context.RuleContext) ------------------------
    def set_captures(self, groups: list[str]) -> None:
        tx, names = self.state.tx, self.state.tx_names
        count = len(groups)
        for index, key in enumerate(_CAPTURE_KEYS):
            if index < count:
                tx[key] = groups[index]
                names[key] = key
            else:
                tx.pop(key, None)
                names.pop(key, None)

    def apply_ctl(self, option: str, value: str, parsed: object) -> None:
        self.ctl_log.append((option, value))
        if option == "ruleEngine":
            self.engine_mode = str(parsed)
        elif option == "ruleRemoveById":
            self._removed_ids.extend(parsed)  # type: ignore[arg-type]
            self._removing = True
        elif option == "ruleRemoveByTag":
            self._removed_tags.add(value)
            self._removing = True
        elif option == "ruleRemoveByMsg":
            self._removed_msgs.append(value)
            self._removing = True
        elif option.startswith("ruleRemoveTarget"):
            assert isinstance(parsed, TargetRemoval)
            self._removed_targets.append(parsed)
        elif option == "requestBodyAccess":
            self.body_access = bool(parsed)
        elif option == "requestBodyProcessor":
            self.state.body_processor = str(parsed)
        elif option == "requestBodyLimit":
            self.ruleset = replace(self.ruleset, body_limit=int(parsed))  # type: ignore[call-overload]
        elif option == "auditEngine":
            self.audit_engine = str(parsed)
        elif option == "forceRequestBodyVariable":
            self.force_body_variable = bool(parsed)

    def init_collection(self, name: str, key: str) -> None:
        """initcol: bind IP / GLOBAL / ... to the RuleSet's record for ``key`` (created if new)."""
        self.state.collections[name] = self.ruleset.store.open(name, key)

    # -- internals -----------------------------------------------------------------------------
    def _intervene(self, intervention: Intervention) -> Intervention:
        self.intervention = intervention
        return intervention

    def _removed(self, rule: Rule) -> bool:
        if any(low <= rule.id <= high for low, high in self._removed_ids):
            return True
        if self._removed_msgs and rule.msg is not None and rule.msg.text in self._removed_msgs:
            return True
        return bool(self._removed_tags) and any(t in self._removed_tags for t in rule.tags)

    def _target_filter(self, rule: Rule) -> list[TargetRemoval]:
        """ctl:ruleRemoveTarget* entries that apply to ``rule``."""
        out = []
        for removal in self._removed_targets:
            if removal.kind == "id":
                if any(low <= rule.id <= high for low, high in removal.ids):
                    out.append(removal)
            elif removal.kind == "tag":
                if removal.text in rule.tags:
                    out.append(removal)
            elif rule.msg is not None and removal.text == rule.msg.text:
                out.append(removal)
        return out

    def _run_phase(self, phase: int) -> Intervention | None:
        if self.engine_mode == "Off" or (self.intervention is not None and phase != 5):
            return self.intervention
        if phase != 5 and (self._allow_all or (self._allow_request and phase <= 2)):
            return None
        steps = self.ruleset.plan.steps.get(phase, ())  # type: ignore[union-attr]
        self._reads = {}
        skip_count = 0
        index = 0
        end = len(steps)
        group_hits = self._group_hits
        while index < end:
            step = steps[index]
            index += 1
            if skip_count:
                skip_count -= 1
                continue
            if self.engine_mode == "Off":
                return None
            entry = step.rule
            if self._removing and self._removed(entry):
                continue
            slot = step.slot
            if slot is not None:
                hits = group_hits.get(slot[0])
                if hits is None:
                    hits = self._scan_group(slot[0])
                if slot[1] not in hits:
                    continue  # none of its patterns occurs in any value: it cannot match
            try:
                if step.single:
                    # a rule without chain: _evaluate inlined, the gate shape without any call
                    state = self.state
                    state.matched_vars = _NO_MATCHES  # MATCHED_VARS restarts with each rule
                    gate = step.gate
                    if gate is not None and not self._removed_targets:
                        key, compare, operand, negated = gate
                        value = state.tx.get(key)
                        if value is None:
                            continue
                        number = int(value) if value.isdigit() and value.isascii() else c_atoi(value)
                        if compare(number, operand) == negated:
                            continue
                        name = "TX:" + state.tx_names.get(key, key)
                        state.matched_var_name, state.matched_var = name, value
                        matches = [(name, value)]
                    else:
                        fast = step.fast
                        if fast is not None and not self._removed_targets:
                            matches = fast(self)
                        else:
                            matches = self._match_link(entry)
                        if not matches:
                            continue
                    state.matched_vars = matches  # a fresh list, never mutated afterwards
                    if entry.runtime:
                        self._run_actions(entry, entry, matches)
                    self._conclude(entry, matches)
                    matched = True
                else:
                    matched = self._evaluate(entry, step.links)
            except Exception as exc:  # one broken rule must not break the request
                message = f"rule {entry.id} ({entry.location}): {type(exc).__name__}: {exc}"
                log.warning("rule evaluation failed: %s", message)
                self.errors.append(message)
                continue
            if not matched:
                continue
            if entry.skip_after:
                index = step.jump  # past the SecMarker (resolved at load, see engine/plan.py)
            skip_count = entry.skip
            action = entry.disruptive
            if self.engine_mode != "On" or phase == 5:
                continue
            if action == "allow":
                if entry.allow_scope is None:
                    self._allow_all = True
                elif entry.allow_scope == "request":
                    self._allow_request = True
                return None
            if action in INTERRUPTING:
                return self._intervene(self._intervention_for(entry))
        return None

    def _intervention_for(self, rule: Rule) -> Intervention:
        msg = rule.msg.expand(self.state, rule) if rule.msg else None
        if rule.disruptive == "redirect":
            url = rule.redirect_url.expand(self.state, rule) if rule.redirect_url else "/"
            status = rule.status if rule.status in REDIRECT_STATUSES else 302
            return Intervention(status=status, rule_id=rule.id, action="redirect", msg=msg, url=url)
        return Intervention(status=rule.status or 403, rule_id=rule.id, action=rule.disruptive, msg=msg)

    def _scan_group(self, index: int) -> set[int]:
        """Scan a prefilter group's values once; the members whose patterns occur somewhere."""
        group = self.ruleset.groups[index]
        _, values = self._collect(group.representative, ())
        hits = group.candidates([v.encode("latin-1") for v in values]) if values else set()
        self._group_hits[index] = hits
        return hits

    def _read(self, target: Target) -> list[tuple[str, str]]:
        """``target.read``, once per phase for targets whose variables a phase cannot change."""
        key = self._stable.get(id(target))
        if key is None:
            return target.read(self.state)
        pairs = self._reads.get(key)
        if pairs is None:
            pairs = self._reads[key] = target.read(self.state)
        return pairs

    def _transform(self, rule: Rule, raw: str) -> str:
        if not rule.transforms:
            return raw
        chain = rule.transform_names
        caches = _SHARED_TRANSFORMS if len(raw) <= SHARED_TRANSFORM_MAX_VALUE else self._cache
        cache = caches.get(chain)
        if cache is not None:
            cached = cache.get(raw)
            if cached is not None:
                return cached
        return self._transform_miss(rule, raw)

    def _transform_miss(self, rule: Rule, raw: str) -> str:
        """Transform ``raw`` starting from the longest chain prefix already applied to it.

        ModSecurity v3 caches transformation results per (value, chain prefix) within a
        transaction; CRS chains share prefixes (``utf8toUnicode,urlDecodeUni,...``), so a long
        attack payload is decoded once per prefix, not once per rule.
        """
        names, funcs = rule.transform_names, rule.transforms
        short = len(raw) <= SHARED_TRANSFORM_MAX_VALUE
        caches = _SHARED_TRANSFORMS if short else self._cache
        cache = caches.get(names)
        if cache is not None:
            found = cache.get(raw)
            if found is not None:
                return found
        value = raw
        start = 0
        for length in range(len(names) - 1, 0, -1):
            prefix_cache = caches.get(names[:length])
            if prefix_cache is not None:
                found = prefix_cache.get(raw)
                if found is not None:
                    value, start = found, length
                    break
        for length in range(start + 1, len(names) + 1):
            value = funcs[length - 1](value)
            prefix = names[:length]
            prefix_cache = caches.get(prefix)
            if prefix_cache is None:
                prefix_cache = caches[prefix] = {}
            elif short and len(prefix_cache) >= SHARED_TRANSFORM_ENTRIES:
                prefix_cache.clear()  # bounded: a flood of distinct values only costs a refill
            prefix_cache[raw] = value
        return value

    def _values(self, rule: Rule, raw: str) -> Sequence[str]:
        """multiMatch: the value before and after each transformation that changes it."""
        if not rule.multi_match:
            return [self._transform(rule, raw)]
        key = (rule.transform_names, raw)
        short = len(raw) <= SHARED_TRANSFORM_MAX_VALUE
        if short:
            cached = _SHARED_MULTI.get(key)
            if cached is not None:
                return cached
        values = [raw]
        current = raw
        for func in rule.transforms:
            current = func(current)
            if current != values[-1]:
                values.append(current)
        if short:
            if len(_SHARED_MULTI) >= _MULTI_ENTRIES:
                _SHARED_MULTI.clear()
            _SHARED_MULTI[key] = tuple(values)
        return values

    def _match_link(self, rule: Rule) -> list[tuple[str, str]]:
        """(MATCHED_VAR_NAME, value) of every target value the link matches, in target order.

        All values are collected (and transformed) first and handed to the operator in one call,
        so database-backed operators scan them in a batch; with multiMatch a variable counts
        once, at its first matching transformation step.
        """
        state = self.state
        operator, negated, capture = rule.operator, rule.negated, rule.capture
        if not rule.targets:  # SecAction
            return [("", "")] if operator.evaluate(self, "", capture) != negated else []
        if len(rule.targets) == 1 and not rule.multi_match and not self._removed_targets:
            pairs = self._read(rule.targets[0])
            if len(pairs) == 1:  # the common scalar / single-key case, without the batching lists
                name, raw = pairs[0]
                value = self._transform(rule, raw)
                if operator.evaluate(self, value, capture) == negated:
                    return []
                state.matched_var_name, state.matched_var = name, value
                return [(name, value)]
            if not pairs:
                return []
        removals = self._target_filter(rule) if self._removed_targets else ()
        if not rule.multi_match:
            return self._match_values(rule, removals)
        names: list[str] = []
        values: list[str] = []
        owners: list[int] = []
        index = 0
        for target in rule.targets:
            pairs = self._read(target)
            if removals:
                pairs = _without(pairs, target, removals)
            for name, raw in pairs:
                for value in self._values(rule, raw):
                    names.append(name)
                    values.append(value)
                    owners.append(index)
                index += 1
        if not values:
            return []
        results = operator.evaluate_many(self, values, capture)
        matches: list[tuple[str, str]] = []
        last_owner = -1
        for i, hit in enumerate(results):
            if hit != negated and owners[i] != last_owner:
                last_owner = owners[i]
                matches.append((names[i], values[i]))
        if matches:
            state.matched_var_name, state.matched_var = matches[-1]
        return matches

    def _match_values(self, rule: Rule, removals: Sequence[TargetRemoval]) -> list[tuple[str, str]]:
        """``_match_link`` without multiMatch: one value per variable, so no owner bookkeeping."""
        names, values = self._collect(rule, removals)
        if not values:
            return []
        results = rule.operator.evaluate_many(self, values, rule.capture)
        negated = rule.negated
        matches = [(names[i], values[i]) for i, hit in enumerate(results) if hit != negated]
        if matches:
            self.state.matched_var_name, self.state.matched_var = matches[-1]
        return matches

    def _collect(self, rule: Rule, removals: Sequence[TargetRemoval]) -> tuple[list[str], list[str]]:
        """(MATCHED_VAR_NAMEs, transformed values) of a link's targets, without multiMatch.

        ``_read`` and ``_transform`` are inlined: CRS runs this for ~50 rules of ~10 values each
        per request, and the two calls per value were a third of its cost.
        """
        state = self.state
        stable = self._stable
        reads = self._reads
        names: list[str] = []
        values: list[str] = []
        cache: dict[str, str] | None = None
        if rule.transforms:
            cache = _SHARED_TRANSFORMS.get(rule.transform_names)
            if cache is None:
                cache = _SHARED_TRANSFORMS[rule.transform_names] = {}
        for target in rule.targets:
            key = stable.get(id(target))
            if key is None:
                pairs = target.read(state)
            else:
                pairs = reads.get(key)  # type: ignore[assignment]
                if pairs is None:
                    pairs = reads[key] = target.read(state)
            if removals:
                pairs = _without(pairs, target, removals)
            if cache is None:
                for name, raw in pairs:
                    names.append(name)
                    values.append(raw)
            else:
                for name, raw in pairs:
                    names.append(name)
                    value = cache.get(raw)  # short values; long ones are never in it
                    if value is None:
                        value = self._transform_miss(rule, raw)
                    values.append(value)
        return names, values

    def _evaluate(self, rule: Rule, links: Sequence[tuple[Rule, LinkMatcher | None]] | None = None) -> bool:
        """Evaluate a rule (and its chain); True when every link matched.

        A link's non-disruptive actions (setvar, ctl, initcol, ...) run as soon as that link
        matches, once per matched value, before the next link is evaluated -- ModSecurity v3's
        "actions independent of the chained rule result" and v2's behaviour. CRS depends on it:
        920440 sets ``tx.extension`` in the starter and tests it in the next link. Logging and
        the disruptive action wait for the whole chain.
        """
        state = self.state
        last: list[tuple[str, str]] = []
        matched_vars: list[tuple[str, str]] = []
        state.matched_vars = matched_vars
        for link, fast in links if links is not None else [(link, None) for link in rule.links()]:
            # fast matchers do not apply ctl:ruleRemoveTarget* (a link's ctl may add one mid-chain)
            matches = fast(self) if fast is not None and not self._removed_targets else self._match_link(link)
            if not matches:
                return False
            matched_vars.extend(matches)
            last = matches
            if link.runtime:
                self._run_actions(rule, link, matches)
        self._conclude(rule, last)
        return True

    def _run_actions(self, rule: Rule, link: Rule, matches: list[tuple[str, str]]) -> None:
        """A matched link's non-disruptive actions, once per matched value (see ``_evaluate``)."""
        state = self.state
        for name, value in matches:
            state.matched_var, state.matched_var_name = value, name
            if link.capture and len(matches) > 1:
                # TX:0..9 of *this* value, as ModSecurity runs operator and actions per value
                link.operator.evaluate(self, value, True)
            for action in link.runtime:
                action.execute(self, rule)

    def _conclude(self, rule: Rule, last: list[tuple[str, str]]) -> None:
        """Record a matched rule (chain): severity, MATCHED_VAR of its last match, the log entry."""
        state = self.state
        if rule.severity is not None and rule.severity < state.highest_severity:
            state.highest_severity = rule.severity
        last_name, last_value = last[-1]
        state.matched_var, state.matched_var_name = last_value, last_name
        self.matched_rules.append(
            MatchedRule(
                id=rule.id,
                msg=rule.msg.expand(state, rule) if rule.msg else None,
                severity=rule.severity,
                tags=rule.tags,
                phase=rule.phase,
                matched_var=last_name,
                matched_data=last_value[:MATCHED_DATA_LIMIT],
                logdata=rule.logdata.expand(state, rule)[:MATCHED_DATA_LIMIT] if rule.logdata else None,
                disruptive=rule.disruptive in INTERRUPTING,
                log=rule.log,
                action=rule.disruptive,
            )
        )


def _without(pairs: list[tuple[str, str]], target: Target, removals: Sequence[TargetRemoval]) -> list[tuple[str, str]]:
    """``pairs`` minus the variables ctl:ruleRemoveTarget* took away from this rule."""
    variable = target.variable.name
    kept = []
    for name, value in pairs:
        key = name.partition(":")[2]
        removed = False
        for removal in removals:
            if removal.variable != variable:
                continue
            if removal.regex is not None:
                removed = removal.regex.search(key) is not None
            else:
                removed = removal.key is None or removal.key == key.lower()
            if removed:
                break
        if not removed:
            kept.append((name, value))
    return kept
