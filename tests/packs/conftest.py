"""Helpers for pack tests: a pack written by the test, so every position asserted is known."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CORE_WAF = REPO / "rules" / "waf" / "core"


def write_pack(folder: Path, files: dict[str, str], *, name: str = "seeded", version: str = "1.0.0",
               kind: str = "waf", cases: list[str] | None = None, extra: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"name": name, "kind": kind, "version": version, "description": "written by a test",
                "engine": ">=1.0.0,<2.0.0", "files": [f for f in files if not f.startswith("tests/")],
                **({"cases": cases} if cases is not None else {}), **(extra or {})}
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(textwrap.dedent(text).lstrip("\n"))
    return folder


def copy_core(dest: Path, version: str, *, extra_rule: str = "", extra_case: str = "") -> Path:
    """The core WAF pack at another version, optionally with one more rule and case."""
    shutil.copytree(CORE_WAF, dest)
    manifest = yaml.safe_load((dest / "manifest.yaml").read_text())
    manifest["version"] = version
    if extra_rule:
        (dest / "probe.conf").write_text(textwrap.dedent(extra_rule).lstrip("\n"))
        manifest["files"].append("probe.conf")
    if extra_case:
        (dest / "tests" / "probe.yaml").write_text(textwrap.dedent(extra_case).lstrip("\n"))
    (dest / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return dest


PROBE_RULE = """
SecRule ARGS:probe "@rx ^shadow-(?:test|check)$" \\
    "id:1099001,phase:2,block,t:none,t:lowercase,msg:'secchain probe parameter',\\
    severity:WARNING,tag:'attack-probe',tag:'OWASP_TOP_10/A05',tag:'secchain-core',\\
    setvar:'tx.anomaly_score=+%{tx.warning_anomaly_score}'"
"""
PROBE_CASE = """
- name: probe-parameter
  request: {uri: "/?probe=shadow-test"}
  expect: {match: [1099001]}
- name: probe-parameter-other-value
  request: {uri: "/?probe=hello"}
  expect: {none: true}
"""
