"""IPS and AV packs: seeded mistakes at their positions, bundles of the core packs."""

from __future__ import annotations

from pathlib import Path

from services.packs.cli import main as rules_main
from shared.packs.bundle import compile_bundle
from shared.packs.lint import lint_pack
from shared.packs.manifest import load_manifest
from tests.packs.conftest import REPO, write_pack


def _found(folder: Path) -> set[tuple[str, int, int, str, str]]:
    _, diagnostics = lint_pack(folder)
    return {(Path(d.file).name, d.line, d.column, d.severity, d.code) for d in diagnostics}


def test_ips_seeded_mistakes(tmp_path: Path) -> None:
    rules = (
        'alert http any any -> any any (msg:"ok"; content:"admin"; http.uri; sid:1; rev:1;)\n'
        'alert http any any -> any any (msg:"missing semicolon"; content:"x" sid:2; rev:1;)\n'
        'alert tcp any any -> any any (msg:"nested"; content:"id="; pcre:"/id=(\\d+\\s?)*x/"; sid:3; rev:1;)\n'
        'alert tcp any any -> any any (msg:"dup, lower rev"; content:"y"; sid:1; rev:0;)\n'
    )
    found = _found(write_pack(tmp_path / "ips", {"a.rules": rules}, kind="ips"))
    assert ("a.rules", 2, 1, "error", "parse") in {(f[0], f[1], 1, f[3], f[4]) for f in found}
    assert ("a.rules", 3, 67, "error", "nested-quantifier") in found
    assert ("a.rules", 4, 1, "warning", "duplicate-id") in found
    assert not any(f[1] == 1 for f in found)


def test_av_seeded_mistakes(tmp_path: Path) -> None:
    files = {
        "a.hdb": "44d88612fea8a8f36de82e1278abb02f:68:Test.Good\nnothex:68:Test.Bad\n44d88612fea8a8f36de82e1278abb02f:big:Test.Size\n",
        "a.ndb": "Test.Body:0:*:6576696c\nTest.Target:99:*:6576696c\n",
        "a.yar": "rule one { strings: $a = \"x\" condition: $a }\nrule two { condition: nothing_here }\n",
    }
    found = _found(write_pack(tmp_path / "av", files, kind="av"))
    assert found == {("a.hdb", 2, 1, "error", "parse"), ("a.hdb", 3, 34, "error", "parse"),
                     ("a.ndb", 2, 13, "error", "parse"), ("a.yar", 2, 1, "error", "parse")}


def test_core_ips_and_av_packs_lint_and_compile(tmp_path: Path) -> None:
    for kind in ("ips", "av"):
        folder = REPO / "rules" / kind / "core"
        _, diagnostics = lint_pack(folder)
        assert [d for d in diagnostics if d.severity == "error"] == [], diagnostics
        bundle = compile_bundle(load_manifest(folder), tmp_path / "bundles", progress=False)
        assert bundle.meta["kind"] == kind
        assert not any(name.startswith("tests") or name == "cases.yaml" for name in bundle.meta["files"])
    assert rules_main(["compile", "av/core", "--bundles-dir", str(tmp_path / "b2")]) == 0
