"""The SecLang reader: continuation lines, comments, Apache-style quoting, positions."""

from __future__ import annotations

import pytest

from services.waf.seclang.errors import SecLangParseError
from services.waf.seclang.source import Source, read_directives


def _read(text: str) -> list[tuple[str, list[str]]]:
    return [(d.name.text, [a.text for a in d.args]) for d in read_directives(Source.from_text(text, "t.conf"))]


def test_quoting_keeps_backslashes_except_before_the_quote() -> None:
    text = r'SecRule ARGS "@rx \d+\"x\w" ' + "'a b' bare\\\\word\n"
    assert _read(text) == [("SecRule", ["ARGS", '@rx \\d+"x\\w', "a b", "bare\\\\word"])]
    # As in ModSecurity v3's lexer, a quote after two backslashes ends the argument.
    assert _read(r'SecRule ARGS "@rx [a\\]" "id:1"') == [("SecRule", ["ARGS", r"@rx [a\\]", "id:1"])]


def test_single_quoted_argument_keeps_double_quotes() -> None:
    assert _read("SecAction 'id:1,msg:\"hi\"'") == [("SecAction", ['id:1,msg:"hi"'])]


def test_comments_blank_lines_and_continuations() -> None:
    text = (
        "# comment\n"
        "   # indented comment\n"
        "\n"
        'SecRule ARGS \\\n'
        '  "@rx a" \\\r\n'
        '  "id:1,\\\n'
        '   pass"\n'
        "SecMarker END\n"
    )
    assert _read(text) == [("SecRule", ["ARGS", "@rx a", "id:1,   pass"]), ("SecMarker", ["END"])]


def test_every_character_keeps_its_file_position() -> None:
    source = Source.from_text('\nSecRule ARGS \\\n  "@rx a" "id:1"\n', "t.conf")
    [directive] = list(read_directives(source))
    operator = directive.args[1]
    assert source.position(operator.offsets[0]) == (3, 4)  # the "@" after the opening quote
    assert source.position(operator.end) == (3, 9)  # the closing quote


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ('SecRule ARGS "@rx a', (1, 14), 'unterminated quoted argument; expected a closing "'),
        ("SecRule ARGS '@rx a", (1, 14), "unterminated quoted argument; expected a closing '"),
        ('SecRule ARGS "@rx a"x "id:1"', (1, 21), "unexpected character after closing quote"),
    ],
)
def test_lexical_errors(text: str, position: tuple[int, int], message: str) -> None:
    with pytest.raises(SecLangParseError) as info:
        list(read_directives(Source.from_text(text, "t.conf")))
    assert (info.value.line, info.value.column) == position
    assert message in info.value.message
