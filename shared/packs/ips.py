"""IPS (Suricata rule) packs: lint and bundle compilation.

Lint loads every file with the IPS rule parser, which never stops at a bad rule (as Suricata
without ``engine.init-failure-fatal``): syntax errors are errors at file:line:column; rules the
engine disables (an unsupported keyword, a duplicate gid:sid where Suricata keeps the higher rev)
are warnings, since Suricata would load the pack but not those rules. Every ``pcre`` is checked
for backtracking blow-ups: in the IPS a pcre always runs on a backtracking matcher after its
content prefilter, so a risky pattern is an error here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from shared.packs.diagnostics import Diagnostic
from shared.packs.manifest import PackManifest
from shared.packs.progress import Progress
from shared.packs.regex_lint import backtracking_risks

# a rule its publisher ships disabled: "#alert http ..." (ET Open's convention, as suricata-update reads it)
_COMMENTED = re.compile(r"^#\s*(?:alert|drop|reject|pass)\s+\S+\s+\S+\s+\S+\s+(?:->|<>)", re.M)
_PCRE = re.compile(r'pcre\s*:\s*"!?/((?:\\.|[^"\\])*)/([A-Za-z]*)"')


def _classification(manifest: PackManifest, root: Path) -> Path | None:
    name = manifest.extra.get("classification")
    return root / name if isinstance(name, str) else None


def lint_ips(manifest: PackManifest) -> list[Diagnostic]:
    from services.ips.signatures.parser import iter_rules, load_rules

    out: list[Diagnostic] = []
    ruleset = load_rules(manifest.file_paths(), classification=_classification(manifest, manifest.folder))
    for err in ruleset.errors:
        out.append(Diagnostic(err.file, err.line, err.column, "error", "parse", err.message))
    for item, reason in ruleset.disabled:
        code = "duplicate-id" if reason.startswith("duplicate sid") else "unsupported"
        out.append(Diagnostic(item.file, item.line, 1, "warning", code, f"sid {item.sid} is not loaded: {reason}"))
    for path in manifest.file_paths():
        for src, _ in iter_rules(path.read_text(encoding="utf-8", errors="replace"), str(path)):
            if src is None:
                continue
            out += _pcre_findings(src.file, src.line, src.text)
    if not ruleset.signatures and not ruleset.errors:
        out.append(Diagnostic(str(manifest.path), 1, 1, "error", "empty", "the pack loads no rule"))
    reasons: dict[str, int] = {}
    for _, reason in ruleset.disabled:
        key = "duplicate sid" if reason.startswith("duplicate sid") else reason
        reasons[key] = reasons.get(key, 0) + 1
    commented = sum(len(_COMMENTED.findall(p.read_text(encoding="utf-8", errors="replace")))
                    for p in manifest.file_paths())
    by_reason = "; ".join(f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    out.append(Diagnostic(str(manifest.path), 0, 0, "info", "summary",
                          f"{len(ruleset.signatures)} rules load, {len(ruleset.disabled)} disabled by the engine"
                          + (f" ({by_reason})" if by_reason else "") + f", {len(ruleset.errors)} do not parse, "
                          f"{commented} commented out in the source"))
    return out


def _pcre_findings(file: str, line: int, text: str) -> list[Diagnostic]:
    from shared.matching.pcre import PcreTranslationError, to_python

    out = []
    for m in _PCRE.finditer(text):
        expr = m.group(1).replace('\\"', '"').replace("\\;", ";")
        before = text[:m.start(1)]
        row = line + before.count("\n")
        column = m.start(1) + 1 - (before.rfind("\n") + 1 if "\n" in before else 0)
        try:
            source = to_python(expr.encode("latin-1"))
        except (PcreTranslationError, UnicodeEncodeError):
            continue  # the parser reports untranslatable patterns
        for finding in backtracking_risks(source, caseless="i" in m.group(2)):
            out.append(Diagnostic(file, row, column, "error", finding.code,
                                  f"{finding.message}; IPS pcre runs on a backtracking matcher"))
    return out


def compile_ips(work: Path, manifest: PackManifest, bar: Progress | None) -> dict[str, Any]:
    from services.ips.detect import DetectEngine
    from services.ips.signatures.parser import load_rules

    files = [work / "files" / f for f in manifest.files]
    ruleset = load_rules(files, classification=_classification(manifest, work / "files"))
    if bar is not None:
        for f in files:
            bar.step(f.name)
    if ruleset.errors:
        raise ValueError(f"{len(ruleset.errors)} rule(s) do not parse, first: {ruleset.errors[0]}")
    hsdb = work / "hsdb"
    hsdb.mkdir()
    DetectEngine.build(ruleset, cache_dir=hsdb)
    if bar is not None:
        bar.step("detection engine")
    return {"rules": len(ruleset.signatures), "disabled": len(ruleset.disabled),
            "databases": sorted(p.name for p in hsdb.glob("*.hsdb"))}


def run_ips_cases(manifest: PackManifest, report: Any, cache_dir: Path | None) -> None:
    """The pack's traffic cases by replay and inline feed (services.ips.packcases), per sid.

    Rule variables are those the cases are written for (packcases.CASE_VARS); the proxy path of
    ``proxy: true`` cases needs sockets and runs under pytest (tests/rules/test_ips_core_pack.py).
    """
    from collections import defaultdict

    from services.ips.config import build_engine
    from services.ips.packcases import CASE_VARS, load_cases, run_cases

    cases = []
    for path in manifest.case_paths():
        cases += load_cases(path, first_index=len(cases))
    if not cases:
        raise ValueError(f"{manifest.path}: the pack has no cases (cases: {list(manifest.cases)})")
    label = manifest.label

    def build() -> Any:
        return build_engine(manifest.file_paths(), labels={str(f): label for f in manifest.file_paths()},
                            label=label, variables=CASE_VARS,
                            classification=_classification(manifest, manifest.folder), cache_dir=cache_dir)

    built = build()
    if built.errors:
        raise ValueError(f"{len(built.errors)} rule(s) do not parse, first: {built.errors[0]}")
    sigs = {s.sid: s for s in built.ruleset.signatures}
    unknown = sorted({sid for c in cases for sid in c.expect | c.expect_inline} - set(sigs))
    if unknown:
        raise ValueError(f"cases expect sids the pack does not load: {unknown}")
    per_rule: dict[str, list[bool]] = defaultdict(list)
    for outcome in run_cases(build, cases):
        report.lines.append((outcome.passed, outcome.case.name, "; ".join(outcome.problems)))
        for sid in outcome.case.expect | outcome.case.expect_inline:
            per_rule[str(sid)].append(outcome.passed)
    report.per_rule = dict(per_rule)
    # a noalert rule (flowbits setter) is exercised through the rules that read its bit
    report.untested = [str(sid) for sid in sorted(sigs) if not sigs[sid].noalert and str(sid) not in per_rule]
    report.notes.append(f"{len(cases)} cases: replay as IDS and inline-modelled, and inline feed; "
                        f"vars {', '.join(f'{k}={v}' for k, v in CASE_VARS.items())}; "
                        "proxy: true cases also run through the real proxy under pytest")
