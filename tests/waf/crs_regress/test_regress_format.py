"""services.waf.regress: reading both YAML formats and building the bytes go-ftw would send."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from services.waf.regress.model import StageInput, TestFileError, load_dir, load_file
from services.waf.regress.request import build_request
from tests.waf.crs_regress.selection import SUITE_DIR

VECTORS = Path(__file__).with_name("vectors")


def test_go_ftw_format_is_read() -> None:
    cases = load_file(VECTORS / "go_ftw_format.yaml")
    assert [c.title for c in cases] == ["920350-1", "920350-2"]
    assert all(c.rule_id == 920350 for c in cases)
    first, second = cases[0].stages[0], cases[1].stages[0]
    assert first.input.method == "GET" and first.input.uri == "/" and first.input.version == "HTTP/1.1"
    assert first.expect.expect_ids == (920350,) and first.expect.status == ()
    assert second.input.autocomplete is False
    assert second.expect.no_expect_ids == (920350,) and second.expect.status == (200,)


@pytest.mark.skipif(not SUITE_DIR.is_dir(), reason=f"no CRS 3.3 tests at {SUITE_DIR}")
def test_crs33_format_is_read() -> None:
    cases = load_file(SUITE_DIR / "REQUEST-920-PROTOCOL-ENFORCEMENT" / "920100.yaml")
    by_title = {c.title: c for c in cases}
    tab = by_title["920100-2"].stages[0]
    assert tab.input.method == "     GET" and tab.expect.status == (400,)
    assert by_title["920100-1"].stages[0].expect.no_log_contains == 'id "920100"'
    assert len(load_dir(SUITE_DIR)) == 2403


def test_go_ftw_log_regexes(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("rule_id: 941100\ntests:\n  - test_id: 7\n    stages:\n      - input: {}\n"
                 "        output: {log: {match_regex: 'id \"941100\"', no_match_regex: 'id \"941101\"'}}\n")
    (case,) = load_file(f)
    assert case.title == "941100-7"
    assert case.stages[0].expect.log_contains == 'id "941100"'
    assert case.stages[0].expect.no_log_contains == 'id "941101"'


def test_malformed_file_names_file_and_test(tmp_path: Path) -> None:
    bad = tmp_path / "930100.yaml"
    bad.write_text("meta: {}\ntests:\n  - test_title: 930100-1\n    stages:\n      - stage: {input: {}}\n")
    with pytest.raises(TestFileError, match=r"930100\.yaml: tests\[0\] \(930100-1\) stages\[0\]: expected input and output"):
        load_file(bad)
    bad.write_text("tests: [{stages: []}]\n")
    with pytest.raises(TestFileError, match="neither test_title"):
        load_file(bad)


def test_autocomplete_adds_length_type_and_close() -> None:
    inp = StageInput(method="POST", uri="/x?a=1", headers=(("Host", "localhost"),), data="q=1 union select")
    assert build_request(inp) == (
        b"POST /x?a=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 16\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\nq=1 union select")


def test_stop_magic_sends_headers_as_written() -> None:
    inp = StageInput(method="GET", uri="/", version="HTTP/1.0", headers=(("Host", "a"),), data="body",
                     autocomplete=False)
    assert build_request(inp) == b"GET / HTTP/1.0\r\nHost: a\r\n\r\nbody"


def test_malformed_request_line_is_kept_byte_for_byte() -> None:
    inp = StageInput(method="\tGET", uri="/a b", version="", headers=(("Host", "localhost"),))
    assert build_request(inp).startswith(b"\tGET /a b \r\nHost: localhost\r\n")


def test_text_goes_out_as_utf8_like_go_strings() -> None:
    # "\xac" in a YAML string is U+00AC: go-ftw sends C2 AC, not the single byte AC.
    inp = StageInput(uri="/?x=\xac\uff1c", headers=(("Host", "h"),))
    assert b"/?x=\xc2\xac\xef\xbc\x9c " in build_request(inp)


def test_raw_and_encoded_requests_are_sent_unchanged(tmp_path: Path) -> None:
    raw = b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n"
    f = tmp_path / "920270.yaml"
    f.write_text(
        "tests:\n"
        "  - test_title: 920270-1\n    stages:\n      - stage:\n          input:\n"
        f"            encoded_request: {base64.b64encode(raw).decode()}\n"
        "          output: {status: 400}\n"
        "  - test_title: 920270-2\n    stages:\n      - stage:\n          input:\n"
        '            raw_request: "GET / HTTP/1.0\\r\\nX: \\xac\\r\\n\\r\\n"\n'
        "          output: {status: 400}\n")
    enc, text = (c.stages[0].input for c in load_file(f))
    assert build_request(enc) == raw
    assert build_request(text) == b"GET / HTTP/1.0\r\nX: \xc2\xac\r\n\r\n"


def test_host_override_replaces_only_the_value() -> None:
    inp = StageInput(headers=(("Host", "localhost"), ("X-Host", "keep")), autocomplete=False)
    assert build_request(inp, host_override="crs.example") == b"GET / HTTP/1.1\r\nHost: crs.example\r\nX-Host: keep\r\n\r\n"


def test_launcher_tenancy_is_valid_and_routes_the_suite_hosts() -> None:
    from services.waf.regress.launcher import SUITE_HOSTS, crs_tenancy
    from shared.config.tenancy import parse_tenancy

    tenancy = parse_tenancy(crs_tenancy("http://127.0.0.1:9", paranoia=4, mode="detect"))
    for host in SUITE_HOSTS:
        site = tenancy.site_for_host(host)
        assert site is not None and site.mode == "detect" and site.rulesets == ("crs",)
        assert site.crs is not None and site.crs.paranoia_level == 4
