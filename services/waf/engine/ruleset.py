"""RuleSet: the immutable result of loading SecLang files, and ``load_ruleset``.

A load reads every file into a fresh builder and freezes it only if nothing failed, so a caller
that keeps its previous RuleSet on SecLangParseError keeps serving exactly what it served before
(the way Suricata keeps its old detection engine when a reload fails). Hot paths only read the
frozen structures; transactions keep their own mutable state. The one shared mutable part is
``store``, the in-memory home of the persistent collections (IP, GLOBAL, ...), which
``with_engine_mode`` copies share.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from services.waf.engine.matcher import MatcherFactory
from services.waf.engine.plan import Plan, build_plan
from services.waf.engine.prefilter import PrefilterGroup, build_groups
from services.waf.engine.rule import Marker, Rule
from services.waf.engine.transaction import Transaction
from services.waf.seclang.builder import ConfigBuilder
from services.waf.seclang.loader import load_file, load_text
from services.waf.variables.persistent import PersistentStore

log = logging.getLogger("secchain.waf.engine")

ENGINE_MODES = ("On", "Off", "DetectionOnly")


@dataclass(frozen=True, slots=True)
class RuleSet:
    phases: Mapping[int, tuple[Rule | Marker, ...]]
    engine_mode: str
    body_access: bool
    body_limit: int
    component_signatures: tuple[str, ...]
    notices: tuple[str, ...]
    rule_count: int
    report: Mapping[str, int]
    sources: tuple[str, ...]
    store: PersistentStore = field(default_factory=PersistentStore, compare=False)
    body_limit_action: str = "Reject"
    nofiles_limit: int = 1048576
    args_limit: int = 1000
    json_depth_limit: int = 10000
    upload_file_limit: int = 100
    response_body_access: bool = False
    response_mime_types: tuple[str, ...] = ("text/plain", "text/html")
    response_body_limit: int = 524288
    response_body_limit_action: str = "Reject"
    groups: tuple[PrefilterGroup, ...] = ()
    group_of: Mapping[int, tuple[int, int]] = field(default_factory=dict)  # id(rule) -> (group, member)
    # derived from phases and group_of (rebuilt when a copy changes either); see engine/plan.py
    plan: Plan | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        plan = self.plan
        if plan is None or plan.phases is not self.phases or plan.group_of is not self.group_of:
            object.__setattr__(self, "plan", build_plan(self.phases, self.group_of))

    @classmethod
    def from_text(
        cls,
        text: str,
        source: str = "<text>",
        *,
        cache_dir: Path | None = None,
        base_dir: Path | None = None,
        apache_escapes: bool = False,
    ) -> RuleSet:
        """Load rules from a string (``Include`` is relative to ``base_dir``, default the cwd).

        ``apache_escapes``: read ``\\\\`` inside quoted arguments as one backslash, as ModSecurity v2
        in Apache does and as OWASP CRS is written (see :mod:`services.waf.seclang.source`).
        """
        builder = ConfigBuilder(matchers=MatcherFactory(cache_dir), apache_escapes=apache_escapes)
        load_text(builder, text, source, base_dir)
        return _freeze(builder, (source,))

    def new_transaction(
        self, *, client_ip: str, client_port: int, server_ip: str, server_port: int, unique_id: str
    ) -> Transaction:
        return Transaction(
            self,
            client_ip=client_ip,
            client_port=client_port,
            server_ip=server_ip,
            server_port=server_port,
            unique_id=unique_id,
        )

    def with_engine_mode(self, mode: str) -> RuleSet:
        """The same rules under another SecRuleEngine mode (e.g. a site in DetectionOnly)."""
        if mode not in ENGINE_MODES:
            raise ValueError(f"invalid engine mode {mode!r}; expected one of {', '.join(ENGINE_MODES)}")
        return replace(self, engine_mode=mode)

    def rule(self, rule_id: int) -> Rule | None:
        for entries in self.phases.values():
            for entry in entries:
                if isinstance(entry, Rule) and entry.id == rule_id:
                    return entry
        return None

    def rules(self) -> list[Rule]:
        return [e for p in sorted(self.phases) for e in self.phases[p] if isinstance(e, Rule)]


def _freeze(builder: ConfigBuilder, sources: tuple[str, ...]) -> RuleSet:
    builder.check_skip_targets()
    for notice in builder.notices:
        log.warning("seclang notice: %s", notice)
    phases = {p: tuple(entries) for p, entries in builder.phases.items()}
    groups, group_of = build_groups(phases, builder.matchers.cache_dir)
    return RuleSet(
        phases=MappingProxyType(phases),
        engine_mode=builder.engine_mode,
        body_access=builder.body_access,
        body_limit=builder.body_limit,
        component_signatures=tuple(builder.signatures),
        notices=tuple(builder.notices),
        rule_count=sum(1 for entries in phases.values() for e in entries if isinstance(e, Rule)),
        report=MappingProxyType(dict(builder.matchers.paths)),
        sources=sources,
        store=PersistentStore(builder.collection_timeout),
        body_limit_action=builder.body_limit_action,
        nofiles_limit=builder.nofiles_limit,
        args_limit=builder.args_limit,
        json_depth_limit=builder.json_depth_limit,
        upload_file_limit=builder.upload_file_limit,
        response_body_access=builder.response_body_access,
        response_mime_types=builder.response_mime_types,
        response_body_limit=builder.response_body_limit,
        response_body_limit_action=builder.response_body_limit_action,
        groups=groups,
        group_of=MappingProxyType(group_of),
    )


def load_ruleset(
    paths: Sequence[Path | str],
    *,
    cache_dir: Path | None = None,
    apache_escapes: bool | Collection[Path | str] = False,
) -> RuleSet:
    """Load rule files in order into one RuleSet; raise SecLangParseError naming file:line:column.

    ``apache_escapes``: True to read every file with ModSecurity v2's reading of ``\\\\`` inside
    quoted arguments (as OWASP CRS is written), or the files (and what they include) to read so,
    e.g. the CRS files of a policy that also loads packs written for the default v3 reading.
    """
    if not paths:
        raise ValueError("load_ruleset needs at least one rule file")
    builder = ConfigBuilder(matchers=MatcherFactory(cache_dir))
    apache_files = (
        None if isinstance(apache_escapes, bool) else {Path(p).resolve() for p in apache_escapes}
    )
    for path in paths:
        if apache_files is None:
            builder.apache_escapes = bool(apache_escapes)
        else:
            builder.apache_escapes = Path(path).resolve() in apache_files
        load_file(builder, Path(path))
    return _freeze(builder, tuple(str(p) for p in paths))
