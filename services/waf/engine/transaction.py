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
from services.waf.engine.rule import Marker, Rule, Target
from services.waf.operators.base import c_atoi
from services.waf.variables.args import parse_query
from services.waf.variables.base import RequestState, wire, wire_bytes
from services.waf.variables.body import processor_for
from services.waf.variables.cookies import parse_cookies
from services.waf.variables.request_line import split_target

if TYPE_CHECKING:
    from collections.abc import Sequence

    from services.waf.engine.ruleset import RuleSet

log = logging.getLogger("secchain.waf.engine")

MATCHED_DATA_LIMIT = 512
INTERRUPTING = ("deny", "drop", "redirect")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


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
        self._allow_all = False
        self._allow_request = False
        self._cache: dict[tuple[tuple[str, ...], str], str] = {}
        # prefilter group -> members with a candidate; a group belongs to one phase and its
        # variables do not change during that phase, so one scan per transaction suffices
        self._group_hits: dict[int, set[int]] = {}

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
        for index in range(10):
            key = str(index)
            if index < len(groups):
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
        elif option == "ruleRemoveByTag":
            self._removed_tags.add(value)
        elif option == "ruleRemoveByMsg":
            self._removed_msgs.append(value)
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
        skip: str | None = None
        skip_count = 0
        group_of = self.ruleset.group_of
        for entry in self.ruleset.phases.get(phase, ()):
            if isinstance(entry, Marker):
                if skip == entry.name:
                    skip = None
                continue
            if skip is not None:
                if skip.isdigit() and entry.id == int(skip):
                    skip = None
                continue
            if skip_count:
                skip_count -= 1
                continue
            if self.engine_mode == "Off":
                return None
            if (self._removed_ids or self._removed_tags or self._removed_msgs) and self._removed(entry):
                continue
            slot = group_of.get(id(entry))
            if slot is not None:
                hits = self._group_hits.get(slot[0])
                if hits is None:
                    hits = self._scan_group(slot[0])
                if slot[1] not in hits:
                    continue  # none of its patterns occurs in any value: it cannot match
            try:
                matched = self._evaluate(entry)
            except Exception as exc:  # one broken rule must not break the request
                message = f"rule {entry.id} ({entry.location}): {type(exc).__name__}: {exc}"
                log.warning("rule evaluation failed: %s", message)
                self.errors.append(message)
                continue
            if not matched:
                continue
            if entry.skip_after:
                skip = entry.skip_after
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
        rep = group.representative
        buffers = [
            self._transform(rep, raw).encode("latin-1") for target in rep.targets for _, raw in target.read(self.state)
        ]
        hits = group.candidates(buffers) if buffers else set()
        self._group_hits[index] = hits
        return hits

    def _transform(self, rule: Rule, raw: str) -> str:
        if not rule.transforms:
            return raw
        key = (rule.transform_names, raw)
        cached = self._cache.get(key)
        if cached is None:
            cached = raw
            for func in rule.transforms:
                cached = func(cached)
            self._cache[key] = cached
        return cached

    def _values(self, rule: Rule, raw: str) -> list[str]:
        if not rule.multi_match:
            return [self._transform(rule, raw)]
        values = [raw]
        current = raw
        for func in rule.transforms:
            current = func(current)
            if current != values[-1]:
                values.append(current)
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
            pairs = rule.targets[0].read(state)
            if len(pairs) == 1:  # the common scalar / single-key case, without the batching lists
                name, raw = pairs[0]
                value = self._transform(rule, raw)
                if operator.evaluate(self, value, capture) == negated:
                    return []
                state.matched_var_name, state.matched_var = name, value
                return [(name, value)]
            if not pairs:
                return []
        names: list[str] = []
        values: list[str] = []
        owners: list[int] = []
        index = 0
        removals = self._target_filter(rule) if self._removed_targets else ()
        for target in rule.targets:
            pairs = target.read(state)
            if removals:
                pairs = _without(pairs, target, removals)
            for name, raw in pairs:
                if rule.multi_match:
                    for value in self._values(rule, raw):
                        names.append(name)
                        values.append(value)
                        owners.append(index)
                else:
                    names.append(name)
                    values.append(self._transform(rule, raw))
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

    def _evaluate(self, rule: Rule) -> bool:
        """Evaluate a rule (and its chain); True when every link matched.

        A link's non-disruptive actions (setvar, ctl, initcol, ...) run as soon as that link
        matches, once per matched value, before the next link is evaluated -- ModSecurity v3's
        "actions independent of the chained rule result" and v2's behaviour. CRS depends on it:
        920440 sets ``tx.extension`` in the starter and tests it in the next link. Logging and
        the disruptive action wait for the whole chain.
        """
        state = self.state
        link: Rule | None = rule
        last: list[tuple[str, str]] = []
        matched_vars: list[tuple[str, str]] = []
        state.matched_vars = matched_vars
        while link is not None:
            matches = self._match_link(link)
            if not matches:
                return False
            matched_vars.extend(matches)
            last = matches
            if link.runtime:
                for name, value in matches:
                    state.matched_var, state.matched_var_name = value, name
                    if link.capture and len(matches) > 1:
                        # TX:0..9 of *this* value, as ModSecurity runs operator and actions per value
                        link.operator.evaluate(self, value, True)
                    for action in link.runtime:
                        action.execute(self, rule)
            link = link.chained
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
        return True


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
