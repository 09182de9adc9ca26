"""Lint a SecLang pack: every error of every file, and what loading alone would not tell.

The engine's loader stops at the first error (a service must not start half-configured); lint
reads on after an error, one directive at a time, through the same directive table and builder,
so a maintainer sees every problem at once, each as ``file:line:column``. On top of the parser's
errors it reports:

- duplicate rule ids, at the second ``id:`` (ModSecurity refuses to start on them);
- rules that can never run: after an unconditional ``deny``/``drop``/``allow`` or an unconditional
  ``skipAfter``/``skip`` in the same phase, or removed by a later ``SecRuleRemoveBy*``;
- the matching path of every ``@rx`` Hyperscan rejects (prefilter+confirm or regex, with
  Hyperscan's reason), as the matching core will run it;
- patterns a backtracking engine can take exponential time on (:mod:`shared.packs.regex_lint`):
  an error when the pattern actually runs on Python ``re`` (Hyperscan rejects it, or the rule
  captures), a warning when Hyperscan runs it today.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from shared.matching import PATH_HYPERSCAN, Pattern, PatternCompileError, PatternFlag
from shared.packs.diagnostics import Diagnostic
from shared.packs.manifest import PackManifest
from shared.packs.regex_lint import backtracking_risks, uppercase_literals

_NOTICE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<msg>.*)$", re.S)
_REMOVALS = ("secruleremovebyid", "secruleremovebytag", "secruleremovebymsg")
_STOPPERS = ("deny", "drop", "redirect", "allow")


@dataclass(slots=True)
class _Pos:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def _pos(token, index: int = 0) -> _Pos:  # noqa: ANN001 (services.waf.seclang.source.Token)
    line, column = token.source.position(token.offset_at(index))
    return _Pos(token.source.name, line, column)


def _diag(pos: _Pos, severity: str, code: str, message: str) -> Diagnostic:
    return Diagnostic(pos.file, pos.line, pos.column, severity, code, message)


def _rx_argument(token) -> tuple[str, int] | None:  # noqa: ANN001
    """The pattern of an @rx operator (explicit or implicit) and its index in the token."""
    text = token.text
    i = 1 if text.startswith("!") else 0
    if text[i:i + 1] != "@":
        return (text[i:], i) if text[i:] else None
    j = i + 1
    while j < len(text) and not text[j].isspace():
        j += 1
    if text[i + 1:j].lower() != "rx":
        return None
    k = j
    while k < len(text) and text[k].isspace():
        k += 1
    return text[k:], k


class _WafLinter:
    def __init__(self, cache_dir: Path | None) -> None:
        from services.waf.engine.matcher import MatcherFactory
        from services.waf.seclang.builder import ConfigBuilder

        self.builder = ConfigBuilder(matchers=MatcherFactory(cache_dir))
        self.cache_dir = cache_dir
        self.out: list[Diagnostic] = []
        self.ids: dict[int, _Pos] = {}           # live rule id -> where its id: is written
        self.removed: dict[int, tuple[_Pos, str]] = {}
        self.skip_links = False                  # links of a chain whose starter was refused
        self.in_chain = False

    # -- reading ----------------------------------------------------------------------------
    def lint_file(self, path: Path) -> None:
        from services.waf.seclang.errors import SecLangParseError
        from services.waf.seclang.source import Source, read_directives

        display = str(path)
        try:
            text = path.read_bytes().decode("utf-8")
        except OSError as exc:
            self.out.append(Diagnostic(display, 0, 0, "error", "read", f"cannot read rule file: {exc.strerror}"))
            return
        except UnicodeDecodeError as exc:
            self.out.append(Diagnostic(display, 0, 0, "error", "read", f"rule file is not valid UTF-8 (byte {exc.start})"))
            return
        source = Source.from_text(text, display)
        self.builder.current_dir = path.resolve().parent
        try:
            for d in read_directives(source):
                self.directive(d, path)
        except SecLangParseError as exc:  # lexical: the rest of the file cannot be split reliably
            self.error(exc)
        self.close_chain()

    def close_chain(self) -> None:
        """A chain still open where no SecRule follows (as the loader reports at a file's end)."""
        error = self.builder.open_chain_error()
        if error is not None:
            self.error(error)
        self.builder.chain = []
        self.in_chain = self.skip_links = False

    def error(self, exc) -> None:  # noqa: ANN001
        self.out.append(Diagnostic(exc.file, exc.line, exc.column, "error", "parse", exc.message))

    def directive(self, d, path: Path) -> None:  # noqa: ANN001
        from services.waf.seclang.directives import DIRECTIVES
        from services.waf.seclang.errors import SecLangParseError
        from services.waf.seclang.loader import _include

        key = d.name.text.lower()
        try:
            if key in ("secrule", "secaction"):
                if not self.rule(d, key):
                    return
            if key in ("include", "includeoptional"):
                if len(d.args) != 1:
                    raise d.name.error(0, f"{d.name.text} expects 1 argument (a path or glob); got {len(d.args)}")
                _include(self.builder, d, path.resolve().parent, (path.resolve(),), optional=key == "includeoptional")
                return
            definition = DIRECTIVES.get(key)
            if definition is None:
                self.out.append(_diag(_pos(d.name), "warning", "unsupported",
                                      f"directive {d.name.text} is not supported by this engine; it is ignored"))
                return
            if self.builder.chain and key != "secrule":
                self.close_chain()
            if not definition.min_args <= len(d.args) <= definition.max_args:
                raise d.name.error(0, f"{definition.name} expects {definition.min_args}"
                                   + (f" to {definition.max_args}" if definition.max_args != definition.min_args else "")
                                   + f" argument(s), got {len(d.args)}; usage: {definition.usage}")
            before = self.live_ids() if key in _REMOVALS else None
            definition.handler(self.builder, d)
            if before is not None:
                for rule_id in before - self.live_ids():
                    self.removed[rule_id] = (self.ids.pop(rule_id, _pos(d.name)),
                                             f"{d.name.text} {' '.join(a.text for a in d.args)} at {_pos(d.name)}")
        except SecLangParseError as exc:
            self.error(exc)
            self.builder.chain = []

    def rule(self, d, key: str) -> bool:  # noqa: ANN001
        """Checks of a SecRule/SecAction before the builder sees it; False to leave it out."""
        from services.waf.seclang.actions_list import split_actions

        actions = d.args[2] if key == "secrule" and len(d.args) > 2 else (d.args[0] if key == "secaction" and d.args else None)
        items = split_actions(actions) if actions is not None else []
        names = {i.name.text.lower() for i in items}
        is_link = self.in_chain and key == "secrule"
        self.in_chain = "chain" in names
        if is_link and self.skip_links:
            self.skip_links = self.in_chain
            return False
        self.skip_links = False
        if key == "secrule" and len(d.args) >= 2:
            lowercased = any(i.name.text.lower() == "t" and i.value is not None and i.value.text.lower() == "lowercase"
                             for i in items)
            self.regex(d.args[1], capture="capture" in names, lowercased=lowercased)
        if not is_link:
            for item in items:
                if item.name.text.lower() == "id" and item.value is not None and item.value.text.strip().isdigit():
                    rule_id, where = int(item.value.text), _pos(item.value)
                    first = self.ids.get(rule_id)
                    if first is not None:
                        self.out.append(_diag(where, "error", "duplicate-id",
                                              f"duplicate rule id {rule_id}; first defined at {first} "
                                              "(ModSecurity refuses to load the configuration)"))
                        self.skip_links = self.in_chain
                        return False
                    self.ids[rule_id] = where
        return True

    def regex(self, token, *, capture: bool, lowercased: bool = False) -> None:  # noqa: ANN001
        found = _rx_argument(token)
        if found is None:
            return
        pattern, index = found
        where = _pos(token, index)
        # the engine matches bytes: a UTF-8 pattern is its bytes, as libmodsecurity's PCRE reads it
        from services.waf.variables.base import wire

        pattern = wire(pattern)
        path, reason = regex_path(pattern, self.cache_dir)
        if path is None:
            return  # not compilable at all: the builder reports it as a parse error
        if path != PATH_HYPERSCAN:
            self.out.append(_diag(where, "info", "regex-path",
                                  f"Hyperscan rejects this pattern ({reason}); it runs on the {path} path"))
        from shared.matching.regex_path import python_source

        try:
            source = python_source(Pattern(0, pattern.encode("latin-1"), PatternFlag.DOTALL | PatternFlag.MULTILINE))
        except Exception:  # noqa: BLE001 - untranslatable: reported by the builder
            return
        upper = uppercase_literals(source) if lowercased else ""
        if upper:
            self.out.append(_diag(where, "warning", "case-mismatch",
                                  f"the pattern requires upper-case {upper!r} but the rule applies t:lowercase "
                                  "first, so those letters can never match"))
        for finding in backtracking_risks(source):
            runs_backtracking = path != PATH_HYPERSCAN or capture
            why = ("it runs on Python re" if path != PATH_HYPERSCAN else "capture runs it on Python re") \
                if runs_backtracking else "only Hyperscan protects it today"
            self.out.append(_diag(where, "error" if runs_backtracking else "warning", finding.code,
                                  f"{finding.message}; {why}"))

    def live_ids(self) -> set[int]:
        from services.waf.engine.rule import Rule

        return {e.id for entries in self.builder.phases.values() for e in entries if isinstance(e, Rule)}

    # -- whole-pack checks --------------------------------------------------------------------
    def finish(self) -> None:
        for notice in self.builder.notices:
            m = _NOTICE.match(notice)
            if m:
                self.out.append(Diagnostic(m["file"], int(m["line"]), 1, "warning", "notice", m["msg"]))
            else:
                self.out.append(Diagnostic("<pack>", 0, 0, "warning", "notice", notice))
        for rule_id, (where, directive) in sorted(self.removed.items()):
            self.out.append(Diagnostic(where.file, where.line, where.column, "warning", "removed-rule",
                                       f"rule {rule_id} is removed by {directive}; it never runs"))
        self.unreachable()

    def unreachable(self) -> None:
        from services.waf.engine.rule import Marker

        for phase, entries in sorted(self.builder.phases.items()):
            reason: str | None = None
            until_marker: str | None = None
            skip_left = 0
            for entry in entries:
                if isinstance(entry, Marker):
                    if until_marker is not None and entry.name == until_marker:
                        reason, until_marker = None, None
                    continue
                if skip_left > 0:
                    skip_left -= 1
                    self.dead(entry, reason)
                    if skip_left == 0:
                        reason = None
                    continue
                if reason is not None:
                    self.dead(entry, reason)
                    continue
                if entry.operator_name.lower() != "unconditionalmatch" or entry.chained is not None:
                    continue
                origin = str(self.ids.get(entry.id, entry.location))
                if entry.disruptive in _STOPPERS:
                    reason = f"rule {entry.id} at {origin} ends phase {phase} unconditionally ({entry.disruptive})"
                elif entry.skip_after:
                    reason = f"rule {entry.id} at {origin} always skips to {entry.skip_after}"
                    until_marker = entry.skip_after
                elif entry.skip:
                    reason, skip_left = f"rule {entry.id} at {origin} always skips {entry.skip} rule(s)", entry.skip

    def dead(self, rule, reason: str | None) -> None:  # noqa: ANN001
        where = self.ids.get(rule.id)
        if where is None:
            return
        self.out.append(Diagnostic(where.file, where.line, where.column, "warning", "unreachable",
                                   f"rule {rule.id} can never run: {reason}"))


def regex_path(pattern: str, cache_dir: Path | None = None) -> tuple[str | None, str]:
    """(path the matching core runs an @rx pattern on, Hyperscan's reason when not hyperscan)."""
    from shared.matching import compile_patterns
    from shared.matching.compile import default_backend

    flags = PatternFlag.DOTALL | PatternFlag.MULTILINE | PatternFlag.SINGLEMATCH
    p = Pattern(0, pattern.encode("latin-1"), flags)
    if default_backend() != "hyperscan":
        return "regex", "Hyperscan is not in use in this process"
    try:
        db = compile_patterns([p], cache_dir=cache_dir)
    except PatternCompileError:
        return None, ""
    path = db.path_of(0)
    if path == PATH_HYPERSCAN:
        return path, ""
    import hyperscan as hs

    from shared.matching.hyperscan_build import HsEntry, compile_db, hs_expression

    try:
        compile_db([HsEntry(0, hs_expression(p), int(PatternFlag.DOTALL | PatternFlag.MULTILINE))], hs.HS_MODE_BLOCK)
        reason = "unknown"
    except hs.error as exc:
        reason = str(exc) or type(exc).__name__
    return path, reason


def lint_waf(manifest: PackManifest, cache_dir: Path | None = None) -> list[Diagnostic]:
    linter = _WafLinter(cache_dir)
    for path in manifest.file_paths():
        linter.lint_file(path)
    linter.finish()
    return linter.out
