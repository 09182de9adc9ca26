"""SecLangParseError: every load error names file:line:column and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.waf.engine import RuleSet, SecLangParseError, load_ruleset


def _error(text: str) -> SecLangParseError:
    with pytest.raises(SecLangParseError) as info:
        RuleSet.from_text(text, source="core.conf")
    return info.value


# Each case names the text the error must point at (its first occurrence in the line), so the
# expected column is computed, not hand-counted.
@pytest.mark.parametrize(
    ("text", "at", "fragment"),
    [
        ('SecRule ARGS "@rxx foo" "id:1"', "@rxx", "unknown operator '@rxx'; expected one of @rx, @pm,"),
        ('SecRule ARGS "@rx a" "id:1,phase:2,deny,foo:bar"', "foo", "unknown action 'foo'; expected one of"),
        ("SecRule ARGS \"@rx a\" \"id:1,msg:'abc\"", "'abc", "unterminated quoted action value"),
        ('SecRule ARGS "@rx a', '"@rx', 'unterminated quoted argument; expected a closing "'),
        ('SecRule ARGZ "@rx a" "id:1"', "ARGZ", "unknown variable 'ARGZ'; expected one of ARGS,"),
        ('SecRule ARGS|&&ARGS "@rx a" "id:1"', "&ARGS", "expected a variable name"),
        ('SecRule ARGS "@rx a" "id:1,t:lowercas"', "lowercas", "unknown transformation 'lowercas'"),
        ('SecRule ARGS "@rx a" "id:1,severity:SEVERE"', "SEVERE", "unknown severity 'SEVERE'"),
        ('SecRule ARGS "@rx a" "id:1,phase:7"', "7", "invalid phase '7'"),
        ('SecRule ARGS "@rx a" "id:x1"', "x1", "id must be an integer"),
        ('SecRule ARGS "@rx a" "phase:2,deny"', "SecRule", "rule has no id"),
        ('SecRule ARGS "@rx (a" "id:1"', "(a", "@rx pattern does not compile"),
        ('SecRule ARGS "@rx a" "id:1,deny:now"', "now", "action 'deny' takes no value"),
        ('SecRule ARGS "@rx a" "id:1,setvar:foo.x=1"', "foo.x", "setvar collection 'foo' is not supported"),
        ('SecRule ARGS "@rx a" "id:1,setvar:tx.s+=5"', "tx.s", "expected tx.s=+5 (ModSecurity writes the sign after '=')"),
        ('SecRule ARGS "@rx a" "id:1,ctl:ruleEngine=Maybe"', "ruleEngine", "invalid ruleEngine 'Maybe'"),
        ('SecRule ARGS "@rx a" "id:1,,deny"', ",deny", "expected an action name"),
        ('SecRule ARGS "@rx a" "id:1,deny log"', "log", "expected ',' or the end of the action list"),
        ('SecRule ARGS "@streq"', '"', "@streq needs an argument"),
        ('SecRule REQUEST_URI:x "@rx a" "id:1"', ":x", "REQUEST_URI is not a collection"),
        ('SecRule !ARGS "@rx a" "id:1"', "!ARGS", "an exclusion needs a selector"),
        ('SecRule ARGS:/(/ "@rx a" "id:1"', "(/", "invalid selector regex"),
        ('SecRule ARGS "@rx a" "id:1,msg:\'%{FOO.bar}\'"', "%{FOO", "unknown variable 'FOO' in macro"),
        ("SecRuleEngine Sometimes", "Sometimes", "invalid SecRuleEngine value 'Sometimes'; expected On, Off or DetectionOnly"),
        ("SecRequestBodyLimit lots", "lots", "invalid SecRequestBodyLimit 'lots'"),
        ('SecDefaultAction "deny"', "deny", "SecDefaultAction must specify a phase"),
        ('SecDefaultAction "phase:2,log"', "phase", "SecDefaultAction must specify a disruptive action"),
        ('SecDefaultAction "phase:2,deny,id:5"', "id:5", "action 'id' is not allowed in SecDefaultAction"),
        ('SecRule ARGS "@rx a"   "id:1"  "extra"', "SecRule", "SecRule expects 2 to 3 argument(s), got 4"),
        ("SecMarker", "SecMarker", "SecMarker expects 1 argument(s), got 0"),
    ],
)
def test_error_position_and_message(text: str, at: str, fragment: str) -> None:
    err = _error(text)
    column = text.rindex(at) + 1 if at == '"' else text.index(at) + 1
    assert (err.file, err.line, err.column) == ("core.conf", 1, column), str(err)
    assert fragment in err.message
    assert str(err).startswith(f"core.conf:1:{column}: ")


def test_position_survives_line_continuations_and_comments() -> None:
    text = (
        "# a comment line\n"
        "\n"
        'SecRule ARGS "@rx a" \\\n'
        '    "id:1,\\\n'
        "    phase:2,\\\n"
        '    bogus:1"\n'
    )
    err = _error(text)
    assert (err.line, err.column) == (6, 5)
    assert "unknown action 'bogus'" in err.message


def test_position_after_escaped_quote_inside_argument() -> None:
    err = _error('SecRule ARGS "@rx \\"x\\"" "id:1,oops"')
    assert (err.line, err.column) == (1, 32)


def test_chain_starter_only_actions_rejected_in_links() -> None:
    err = _error('SecRule ARGS "@rx a" "id:1,chain"\nSecRule ARGS "@rx b" "id:2"')
    assert (err.line, err.column) == (2, 23)
    assert "not allowed in a chained rule" in err.message


def test_chain_without_following_rule() -> None:
    err = _error('SecRule ARGS "@rx a" "id:1,deny,chain"\nSecAction "id:2,pass"')
    assert (err.line, err.column) == (1, 33)
    assert "'chain' must be followed by a SecRule" in err.message
    err = _error('SecRule ARGS "@rx a" "id:1,deny,chain"\n')
    assert (err.line, err.column) == (1, 33)


def test_duplicate_id_names_first_definition() -> None:
    err = _error('SecAction "id:7,pass"\nSecAction "id:7,pass"')
    assert err.line == 2
    assert "duplicate rule id 7; first defined at core.conf:1" in err.message


def test_unknown_directive_is_a_notice_not_silence() -> None:
    rs = RuleSet.from_text('SecAuditEngine RelevantOnly\nSecFooBar On\nSecAction "id:1,pass"', source="core.conf")
    assert rs.notices == (
        "core.conf:1: SecAuditEngine has no effect here: audit logging is the WAF's alert stream"
        " (ctl:auditEngine is honoured per transaction)",
        "core.conf:2: directive SecFooBar is not supported by this engine; ignored",
    )
    assert rs.rule_count == 1


def test_include_is_relative_to_including_file_with_globs(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.conf").write_text('SecAction "id:2,pass"\n')
    (tmp_path / "sub" / "a.conf").write_text('SecAction "id:1,pass"\n')
    (tmp_path / "sub" / "inner.conf").write_text("Include *.rules\n")
    (tmp_path / "sub" / "c.rules").write_text('SecAction "id:3,pass"\n')
    (tmp_path / "main.conf").write_text("Include sub/?.conf\nInclude sub/inner.conf\n")
    rs = load_ruleset([tmp_path / "main.conf"])
    assert [r.id for r in rs.rules()] == [1, 2, 3]


def test_include_errors_point_into_the_included_file(tmp_path: Path) -> None:
    (tmp_path / "bad.conf").write_text('\n\nSecRule ARGS "@rx a" "id:1,nope"\n')
    (tmp_path / "main.conf").write_text("Include bad.conf\n")
    with pytest.raises(SecLangParseError) as info:
        load_ruleset([tmp_path / "main.conf"])
    assert info.value.file == str((tmp_path / "bad.conf").resolve())
    assert (info.value.line, info.value.column) == (3, 28)


def test_include_missing_and_cycles(tmp_path: Path) -> None:
    (tmp_path / "main.conf").write_text("Include nothing-*.conf\n")
    with pytest.raises(SecLangParseError, match="matches no file"):
        load_ruleset([tmp_path / "main.conf"])
    (tmp_path / "loop.conf").write_text("Include loop.conf\n")
    with pytest.raises(SecLangParseError, match="Include cycle"):
        load_ruleset([tmp_path / "loop.conf"])
    with pytest.raises(SecLangParseError, match="cannot read rule file"):
        load_ruleset([tmp_path / "absent.conf"])
