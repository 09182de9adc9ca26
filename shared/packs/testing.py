"""``secchain rules test``: a pack's cases through the real engine, with per-rule results.

The report lists every case (``PASS``/``FAIL`` with why), then every rule the cases name with how
many of its cases passed, and the rules no case exercises; the summary line is ``N passed,
M failed``. Only failed cases fail the run: an untested rule is reported, not fatal, because a
pack may carry helper rules (scoring, setup) that no attack triggers on its own.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from shared.packs.manifest import PackManifest


@dataclass(slots=True)
class TestReport:
    pack: str
    lines: list[tuple[bool, str, str]] = field(default_factory=list)   # (passed, case name, detail)
    per_rule: dict[str, list[bool]] = field(default_factory=dict)       # rule id -> case outcomes
    untested: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)                      # which engines ran, what was skipped
    error: str | None = None

    @property
    def passed(self) -> int:
        return sum(1 for ok, _, _ in self.lines if ok)

    @property
    def failed(self) -> int:
        return sum(1 for ok, _, _ in self.lines if not ok) + (1 if self.error else 0)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and bool(self.lines)

    def render(self, verbose: bool = False) -> str:
        out = []
        if self.error:
            out.append(f"ERROR {self.error}")
        for ok, name, detail in self.lines:
            if verbose or not ok:
                out.append(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""))
        if self.per_rule:
            failing = sum(1 for outcomes in self.per_rule.values() if not all(outcomes))
            out.append(f"per rule: {len(self.per_rule)} rules exercised, {failing} with failing cases")
            for rule, outcomes in sorted(self.per_rule.items()):
                good = sum(outcomes)
                if verbose or good != len(outcomes):
                    state = "ok  " if good == len(outcomes) else "FAIL"
                    out.append(f"  {state} {rule}: {good}/{len(outcomes)} case(s) passed")
        if self.untested:
            out.append(f"rules without a case: {', '.join(self.untested)}")
        out += [f"note: {n}" for n in self.notes]
        out.append(f"{self.pack}: {self.passed} passed, {self.failed} failed")
        return "\n".join(out)


def test_pack(manifest: PackManifest, *, cache_dir: Path | None = None,
              clamd: tuple[str, int] | None = None) -> TestReport:
    """``clamd``: AV packs are also checked through this running clamd when it answers."""
    report = TestReport(manifest.label)
    try:
        if manifest.kind == "av":
            from shared.packs.av import run_av_cases

            run_av_cases(manifest, report, cache_dir, clamd=clamd)
        else:
            {"waf": _test_waf, "ips": _test_ips}[manifest.kind](manifest, report, cache_dir)
    except Exception as exc:  # noqa: BLE001 - a pack that cannot load fails its test run, with why
        report.error = f"{type(exc).__name__}: {exc}"
    return report


def _test_waf(manifest: PackManifest, report: TestReport, cache_dir: Path | None) -> None:
    from services.waf.engine import load_ruleset
    from shared.packs.waf.cases import load_cases, run_cases

    ruleset = load_ruleset(manifest.file_paths(), cache_dir=cache_dir)
    cases = load_cases(manifest.case_paths())
    per_rule: dict[str, list[bool]] = defaultdict(list)
    for result in run_cases(ruleset, cases):
        report.lines.append((result.passed, result.case.name, "; ".join(result.problems)))
        for rule_id in (*result.case.expect.get("match", []), *result.case.expect.get("no_match", [])):
            per_rule[str(rule_id)].append(result.passed)
    report.per_rule = dict(per_rule)
    logged = {str(r.id) for r in ruleset.rules() if r.log}
    report.untested = sorted(logged - set(per_rule), key=int)


def _test_ips(manifest: PackManifest, report: TestReport, cache_dir: Path | None) -> None:
    from shared.packs.ips import run_ips_cases

    run_ips_cases(manifest, report, cache_dir)
