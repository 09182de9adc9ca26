"""Seeded mistakes, each asserted at its exact file:line:column; the core pack lints clean."""

from __future__ import annotations

from pathlib import Path

from services.packs.cli import main as rules_main
from shared.packs.lint import lint_pack
from tests.packs.conftest import CORE_WAF, write_pack

SEEDED = {
    "a.conf": r'''
        SecDefaultAction "phase:2,log,deny,status:403"
        SecRule ARGS "@rx (a+)+$" "id:100,phase:2,deny,msg:'nested'"
        SecRule ARGS "@rx (\w+)\s+\1" "id:101,phase:2,deny"
        SecRule ARGS "@rx (x\w*\s?)*y" "id:102,phase:2,deny,capture"
        SecRule ARGS "@rx foo" "id:100,phase:2,deny"
        SecRule ARGS "@bogus foo" "id:103,phase:2,deny"
        SecAction "id:104,phase:1,deny,status:403"
        SecRule REQUEST_URI "@contains x" "id:105,phase:1,deny"
        SecAction "id:106,phase:2,pass,nolog,skipAfter:END"
        SecRule ARGS "@contains y" "id:107,phase:2,deny"
        SecMarker END
        SecRule ARGS "@contains z" "id:108,phase:2,deny"
        SecRule ARGS "@contains w" "id:109,phase:2,deny,chain"
    ''',
    "b.conf": r'''
        SecRuleRemoveById 108
        SecRule ARGS "@contains q" "id:110,phase:2,deny,bogusaction"
        SecRule ARGS "@rx (?:ab|\w\w)+!" "id:111,phase:2,deny"
        SecRule ARGS "@rx ^(?:Admin|root)$" "id:112,phase:2,deny,t:none,t:lowercase"
    ''',
}


def _found(folder: Path) -> set[tuple[str, int, int, str, str]]:
    _, diagnostics = lint_pack(folder)
    return {(Path(d.file).name, d.line, d.column, d.severity, d.code) for d in diagnostics}


def test_seeded_mistakes_at_exact_positions(tmp_path: Path) -> None:
    found = _found(write_pack(tmp_path / "seeded", SEEDED))
    assert found == {
        ("a.conf", 2, 19, "warning", "nested-quantifier"),       # Hyperscan runs it today
        ("a.conf", 3, 19, "info", "regex-path"),                 # back reference: prefilter+confirm
        ("a.conf", 4, 19, "error", "nested-quantifier"),         # capture runs it on Python re
        ("a.conf", 5, 28, "error", "duplicate-id"),
        ("a.conf", 6, 15, "error", "parse"),                     # unknown operator
        ("a.conf", 8, 39, "warning", "unreachable"),             # after an unconditional deny
        ("a.conf", 10, 32, "warning", "unreachable"),            # skipped to END
        ("a.conf", 12, 32, "warning", "removed-rule"),           # removed in b.conf
        ("a.conf", 13, 49, "error", "parse"),                    # chain never completed at the end of a.conf
        ("b.conf", 2, 49, "error", "parse"),                     # unknown action
        ("b.conf", 3, 19, "warning", "overlapping-alternation"),
        ("b.conf", 4, 19, "warning", "case-mismatch"),          # 'A' after t:lowercase
    }


def test_messages_say_where_the_other_side_is(tmp_path: Path) -> None:
    _, diagnostics = lint_pack(write_pack(tmp_path / "seeded", SEEDED))
    text = "\n".join(str(d) for d in diagnostics)
    assert "duplicate rule id 100; first defined at" in text and "a.conf:2:31" in text
    assert "rule 105 can never run: rule 104 at" in text and "a.conf:7:15 ends phase 1 unconditionally (deny)" in text
    assert "rule 108 is removed by SecRuleRemoveById 108 at" in text and "b.conf:1:1" in text
    assert "Back-references are unsupported" in text and "prefilter+confirm" in text


def test_core_pack_is_clean_and_exit_codes(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    _, diagnostics = lint_pack(CORE_WAF)
    assert [d for d in diagnostics if d.severity != "info"] == []
    assert rules_main(["lint", str(CORE_WAF)]) == 0
    assert "0 error(s), 0 warning(s), 1 note(s)" in capsys.readouterr().out
    assert rules_main(["lint", str(write_pack(tmp_path / "seeded", SEEDED))]) == 1
    out = capsys.readouterr().out
    assert "seeded@1.0.0: 5 error(s), 6 warning(s), 1 note(s)" in out


def test_lexical_error_and_missing_file(tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "p", {"a.conf": 'SecRule ARGS "@rx a" "id:1,phase:2,deny\n'})
    found = _found(folder)
    assert {(f[0], f[1], f[3]) for f in found} == {("a.conf", 1, "error")}
