"""Turning directives into compiled rules and engine settings (one builder per load).

The builder accumulates everything a load produces; only when every file has been read without
error does the caller freeze it into a RuleSet, so a failing load leaves nothing half-applied.

SecDefaultAction follows ModSecurity: it must name a phase and a disruptive action; rules of that
phase written after it inherit its transformations (unless they say ``t:none``), its log and
auditlog settings, its non-disruptive runtime actions and its disruptive action when they have
none or say ``block``. Metadata actions are not allowed in it (ModSecurity 2.7+).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from services.waf.actions import ACTIONS, RuleDraft
from services.waf.engine.matcher import MatcherFactory
from services.waf.engine.rule import Marker, Rule, Target
from services.waf.operators import CompileContext
from services.waf.seclang.actions_list import split_actions
from services.waf.seclang.errors import SecLangParseError
from services.waf.seclang.operator_spec import OperatorSpec
from services.waf.seclang.source import Token
from services.waf.transformations import lookup

DEFAULT_BODY_LIMIT = 134217728  # ModSecurity's SecRequestBodyLimit default (128 MiB)


@dataclass(slots=True)
class PendingLink:
    draft: RuleDraft
    targets: tuple[Target, ...]
    spec: OperatorSpec
    location: str
    chain_token: Token | None


@dataclass(slots=True)
class ConfigBuilder:
    matchers: MatcherFactory
    engine_mode: str = "On"
    body_access: bool = False
    body_limit: int = DEFAULT_BODY_LIMIT
    signatures: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    phases: dict[int, list[Rule | Marker]] = field(default_factory=lambda: {p: [] for p in range(1, 6)})
    defaults: dict[int, RuleDraft] = field(default_factory=dict)
    ids: dict[int, str] = field(default_factory=dict)
    markers: set[str] = field(default_factory=set)
    skip_targets: list[tuple[str, str]] = field(default_factory=list)
    chain: list[PendingLink] = field(default_factory=list)
    collection_timeout: int = 3600
    body_limit_action: str = "Reject"  # SecRequestBodyLimitAction: Reject | ProcessPartial
    nofiles_limit: int = 1048576  # SecRequestBodyNoFilesLimit (ModSecurity default 1 MiB)
    args_limit: int = 1000  # SecArgumentsLimit
    json_depth_limit: int = 10000  # SecRequestBodyJsonDepthLimit
    upload_file_limit: int = 100  # SecUploadFileLimit
    response_body_access: bool = False
    response_mime_types: tuple[str, ...] = ("text/plain", "text/html")  # ModSecurity's default
    response_body_limit: int = 524288  # SecResponseBodyLimit (ModSecurity default 512 KiB)
    response_body_limit_action: str = "Reject"
    apache_escapes: bool = False  # quoted-argument backslashes read as Apache / ModSecurity v2 does
    current_dir: Path | None = None  # folder of the file being read (data files are relative to it)

    def compile_context(self, location: str) -> CompileContext:
        return CompileContext(
            matchers=self.matchers, notices=self.notices, location=location, base_dir=self.current_dir
        )

    # -- actions -------------------------------------------------------------------------------
    def apply_actions(self, token: Token | None, *, link: bool, default: bool) -> tuple[RuleDraft, Token | None]:
        draft = RuleDraft()
        chain_token: Token | None = None
        if token is None:
            return draft, None
        for item in split_actions(token):
            written = item.name.text
            definition = ACTIONS.get(written.lower())
            if definition is None:
                known = ", ".join(sorted(d.name for d in ACTIONS.values()))
                raise item.name.error(0, f"unknown action '{written}'; expected one of {known}")
            if definition.value == "required" and item.value is None:
                raise item.name.error(len(written), f"action '{definition.name}' needs a value ({definition.name}:...)")
            if definition.value == "forbidden" and item.value is not None:
                raise item.value.error(0, f"action '{definition.name}' takes no value")
            if link and definition.starter_only:
                raise item.name.error(
                    0,
                    f"action '{definition.name}' is not allowed in a chained rule; only the chain"
                    " starter carries id, phase, metadata, disruptive and skip actions",
                )
            if default and not definition.default_allowed:
                raise item.name.error(0, f"action '{definition.name}' is not allowed in SecDefaultAction")
            if definition.name == "chain":
                chain_token = item.name
            target = item.value if item.value is not None else item.name

            def fail(message: str, _t: Token = target) -> SecLangParseError:
                return _t.error(0, message)

            definition.apply(draft, item.value.text if item.value is not None else None, fail)
            draft.seen.add(definition.name)
        return draft, chain_token

    # -- rules ---------------------------------------------------------------------------------
    def add_rule(
        self,
        targets: tuple[Target, ...],
        spec: OperatorSpec,
        actions: Token | None,
        location: str,
        anchor: Token,
    ) -> None:
        link = bool(self.chain)
        draft, chain_token = self.apply_actions(actions, link=link, default=False)
        if not link:
            if draft.id is None:
                raise anchor.error(0, "rule has no id; expected an 'id:' action")
            if draft.id in self.ids:
                raise anchor.error(0, f"duplicate rule id {draft.id}; first defined at {self.ids[draft.id]}")
            self.ids[draft.id] = location
        self.chain.append(PendingLink(draft, targets, spec, location, chain_token))
        if not draft.chain:
            self._finish_chain()

    def open_chain_error(self) -> SecLangParseError | None:
        if not self.chain:
            return None
        token = self.chain[-1].chain_token
        assert token is not None
        return token.error(0, "'chain' must be followed by a SecRule (the next link of the chain)")

    def _finish_chain(self) -> None:
        links = self.chain
        self.chain = []
        starter = links[0].draft
        phase = starter.phase or 2
        default = self.defaults.get(phase)
        rule: Rule | None = None
        for index in range(len(links) - 1, -1, -1):
            rule = self._freeze(links[index], starter, default, phase, rule, index > 0)
        assert rule is not None
        if starter.skip_after:
            self.skip_targets.append((starter.skip_after, rule.location))
        self.phases[phase].append(rule)

    def _freeze(
        self,
        link: PendingLink,
        starter: RuleDraft,
        default: RuleDraft | None,
        phase: int,
        chained: Rule | None,
        is_link: bool,
    ) -> Rule:
        draft = link.draft
        names: list[str] = []
        if default is not None and not draft.transforms_reset:
            names.extend(default.transforms)
        names.extend(draft.transforms)
        disruptive = starter.disruptive
        status = starter.status
        if disruptive in (None, "block"):
            disruptive = default.disruptive if default is not None and default.disruptive else "pass"
            if status is None and default is not None:
                status = default.status
        log = starter.log if starter.log is not None else (default.log if default and default.log is not None else True)
        auditlog = starter.auditlog
        if auditlog is None:
            auditlog = default.auditlog if default and default.auditlog is not None else log
        runtime = list(draft.runtime)
        if default is not None and not is_link:
            runtime = list(default.runtime) + runtime
        transforms = tuple(lookup(n).func for n in names)  # type: ignore[union-attr]
        return Rule(
            id=starter.id or 0,
            phase=phase,
            targets=link.targets,
            operator=link.spec.operator,
            operator_name=link.spec.name,
            operator_argument=link.spec.argument,
            negated=link.spec.negated,
            transform_names=tuple(names),
            transforms=transforms,
            msg=starter.msg,
            logdata=starter.logdata,
            severity=starter.severity,
            tags=tuple(starter.tags),
            ver=starter.ver,
            rev=starter.rev,
            maturity=starter.maturity,
            accuracy=starter.accuracy,
            disruptive=disruptive,
            allow_scope=starter.allow_scope,
            status=status,
            redirect_url=starter.redirect_url,
            log=log,
            auditlog=auditlog,
            capture=draft.capture,
            multi_match=draft.multi_match or (default.multi_match if default and not is_link else False),
            runtime=tuple(runtime),
            skip_after=starter.skip_after,
            skip=starter.skip,
            chained=chained,
            location=link.location,
            is_link=is_link,
        )

    def set_default(self, token: Token) -> None:
        draft, _ = self.apply_actions(token, link=False, default=True)
        if draft.phase is None:
            raise token.error(0, "SecDefaultAction must specify a phase (e.g. phase:2)")
        if draft.disruptive is None:
            raise token.error(0, "SecDefaultAction must specify a disruptive action (pass, deny, ...)")
        self.defaults[draft.phase] = draft

    def add_marker(self, name: str, location: str) -> None:
        marker = Marker(name=name, location=location)
        self.markers.add(name)
        for phase in self.phases.values():
            phase.append(marker)

    def check_skip_targets(self) -> None:
        for target, location in self.skip_targets:
            if target not in self.markers and not (target.isdigit() and int(target) in self.ids):
                self.notices.append(f"{location}: skipAfter:{target} names no SecMarker or rule id; the rest of the phase will be skipped")
