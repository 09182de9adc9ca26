"""The strict multipart/form-data parser and the MULTIPART_* flags ModSecurity defines."""

from __future__ import annotations

import pytest

from services.waf.variables.multipart import parse_multipart
from tests.waf.engine.helpers import ids, run

CT = "multipart/form-data; boundary=XyZ"


def part(headers: str, data: str, eol: str = "\r\n") -> str:
    return f"--XyZ{eol}{headers}{eol}{eol}{data}{eol}"


GOOD = part('Content-Disposition: form-data; name="a"', "1") + part(
    'Content-Disposition: form-data; name="f"; filename="x.txt"\r\nContent-Type: text/plain', "hello"
) + "--XyZ--\r\n"


def test_well_formed_body_fills_args_files_and_part_headers() -> None:
    result = parse_multipart(GOOD, CT)
    assert result.error is None and result.flags == set() and not result.strict_error
    assert result.args == [("a", "1")]
    assert [(f.field, f.filename, f.content) for f in result.files] == [("f", "x.txt", "hello")]
    assert result.part_headers == [
        ("a", 'Content-Disposition: form-data; name="a"'),
        ("f", 'Content-Disposition: form-data; name="f"; filename="x.txt"'),
        ("f", "Content-Type: text/plain"),
    ]


@pytest.mark.parametrize(
    ("content_type", "body", "flag"),
    [
        ('multipart/form-data; boundary="XyZ"', GOOD, "BOUNDARY_QUOTED"),
        ("multipart/form-data; boundary= XyZ", GOOD, "BOUNDARY_WHITESPACE"),
        (CT, "junk\r\n" + GOOD, "DATA_BEFORE"),
        (CT, GOOD + "trailing junk", "DATA_AFTER"),
        (CT, part('Content-Disposition: form-data;\r\n name="a"', "1") + "--XyZ--\r\n", "HEADER_FOLDING"),
        (CT, part('Content-Disposition: form-data; name="a"', "1", "\n") + "--XyZ--\n", "LF_LINE"),
        (CT, part('Content-Disposition: form-data name="a"', "1") + "--XyZ--\r\n", "MISSING_SEMICOLON"),
        (CT, part("Content-Disposition: form-data; name='a'", "1") + "--XyZ--\r\n", "INVALID_QUOTING"),
    ],
)
def test_strict_flags(content_type: str, body: str, flag: str) -> None:
    result = parse_multipart(body, content_type)
    assert flag in result.flags and result.strict_error


def test_mixed_line_endings_and_unmatched_boundary_are_not_strict_errors_alone() -> None:
    body = part('Content-Disposition: form-data; name="a"', "x\n--XyZfoo") + "--XyZ--\n"
    result = parse_multipart(body, CT)
    assert {"CRLF_LF_LINES", "UNMATCHED_BOUNDARY", "LF_LINE"} <= result.flags
    assert result.args == [("a", "x\n--XyZfoo")]


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("multipart/form-data", GOOD, "Multipart: Boundary not found in C-T."),
        ("multipart/form-data; boundary=a; boundary=b", GOOD, "Multipart: Multiple boundary parameters in C-T."),
        ("multipart/form-data; boundary=a{b", GOOD, "Multipart: Invalid boundary in C-T (characters)."),
        (CT, GOOD[: -len("--XyZ--\r\n")], "Multipart: Final boundary missing."),
        (CT, part("X-Foo: bar", "1") + "--XyZ--\r\n", "Multipart: Part missing Content-Disposition header."),
        (CT, part("Content-Disposition: form-data", "1") + "--XyZ--\r\n",
         "Multipart: Content-Disposition header missing name field."),
        (CT, part("no colon here", "1") + "--XyZ--\r\n", "Multipart: Invalid part header (colon missing)."),
    ],
)
def test_errors_carry_modsecurity_messages(content_type: str, body: str, message: str) -> None:
    result = parse_multipart(body, content_type)
    assert result.error == message and result.strict_error


def test_file_limit_sets_its_flag() -> None:
    files = "".join(
        part(f'Content-Disposition: form-data; name="f{i}"; filename="{i}.txt"', "x") for i in range(3)
    )
    result = parse_multipart(files + "--XyZ--\r\n", CT, file_limit=2)
    assert len(result.files) == 2 and "FILE_LIMIT_EXCEEDED" in result.flags


def test_rules_see_the_multipart_variables() -> None:
    rules = (
        'SecRule MULTIPART_STRICT_ERROR "!@eq 0" "id:1,phase:2,pass,logdata:%{REQBODY_ERROR_MSG}"\n'
        'SecRule FILES "@rx \\.php$" "id:2,phase:2,pass"\n'
        'SecRule FILES_SIZES "@gt 3" "id:3,phase:2,pass"\n'
        'SecRule MULTIPART_PART_HEADERS "@rx ^content-type\\s*:\\s*text/" "id:4,phase:2,pass,t:lowercase"\n'
        'SecRule &FILES_NAMES "@eq 1" "id:5,phase:2,pass"\n'
        'SecRule REQBODY_PROCESSOR "@streq MULTIPART" "id:6,phase:2,pass"\n'
        'SecRule ARGS_POST:a "@streq 1" "id:7,phase:2,pass"\n'
        'SecRule REQUEST_BODY "@contains hello" "id:8,phase:2,pass"\n'
    )
    body = GOOD.replace("x.txt", "x.php").encode()
    tx = run(rules, "/", method="POST", headers=[("Host", "h"), ("Content-Type", CT)], body=body)
    assert ids(tx) == [2, 3, 4, 5, 6, 7]  # REQUEST_BODY stays empty after MULTIPART (ModSecurity v2)
    broken = run(rules, "/", method="POST", headers=[("Host", "h"), ("Content-Type", CT)], body=b"--XyZ\r\n")
    assert 1 in ids(broken) and broken.state.reqbody_error
