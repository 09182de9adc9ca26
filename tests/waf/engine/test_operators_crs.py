"""The operators CRS needs beyond the basic set: data files, IP lists, validations."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.waf.engine import RuleSet, SecLangParseError
from tests.waf.engine.helpers import PREFIX, ids, run


def test_pm_from_file_is_relative_to_the_rule_file(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "agents.data").write_text("# scanners\n\nnikto\nmasscan scanner\n")
    (tmp_path / "rules" / "r.conf").write_text(
        PREFIX + 'SecRule REQUEST_HEADERS:User-Agent "@pmFromFile agents.data" "id:1,phase:1,deny,capture"\n'
        'SecRule REQUEST_HEADERS:User-Agent "@pmf agents.data" "id:2,phase:1,pass"\n'
    )
    rs = RuleSet.from_text("Include rules/r.conf\n", base_dir=tmp_path)
    tx = run(rs, headers=[("Host", "h"), ("User-Agent", "Mozilla MASSCAN Scanner/1")])
    assert ids(tx) == [1] and tx.state.tx["0"] == "masscan scanner"
    assert ids(run(rs, headers=[("Host", "h"), ("User-Agent", "masscan")])) == []


def test_pm_from_file_missing_file_names_the_rule_location(tmp_path: Path) -> None:
    with pytest.raises(SecLangParseError) as info:
        RuleSet.from_text('SecRule ARGS "@pmFromFile nope.data" "id:1"\n', source="x.conf", base_dir=tmp_path)
    assert "x.conf:1" in str(info.value) and "nope.data" in str(info.value)


def test_ip_match_and_ip_match_from_file(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_text("# blocklist\n198.51.100.0/24\n2001:db8::/32\n")
    rules = (
        'SecRule REMOTE_ADDR "@ipMatch 192.0.2.0/28,10.0.0.1" "id:1,phase:1,pass"\n'
        f'SecRule REMOTE_ADDR "@ipMatchFromFile {tmp_path}/bad.txt" "id:2,phase:1,pass"\n'
        'SecRule REQUEST_HEADERS:X-Forwarded-For "@ipMatch 2001:db8::/32" "id:3,phase:1,pass"\n'
        'SecRule REQUEST_HEADERS:X-Forwarded-For "@ipMatchF ' + f"{tmp_path}/bad.txt" + '" "id:4,phase:1,pass"\n'
    )
    assert ids(run(rules, headers=[("Host", "h"), ("X-Forwarded-For", "2001:db8::7")])) == [1, 3, 4]
    assert ids(run(rules, headers=[("Host", "h"), ("X-Forwarded-For", "not-an-ip")])) == [1]


def test_ip_match_rejects_a_bad_network_at_load() -> None:
    with pytest.raises(SecLangParseError, match="invalid IP address or network '300.1.1.1'"):
        RuleSet.from_text('SecRule REMOTE_ADDR "@ipMatch 300.1.1.1" "id:1"\n')


@pytest.mark.parametrize(
    ("operator", "value", "hit"),
    [
        ("@containsWord select", "a select b", True),
        ("@containsWord select", "selection", False),
        ("@containsWord select", "x_select", False),
        ("@strmatch WebZIP", "Mozilla WebZIP/4", True),
        ("@strmatch WebZIP", "webzip", False),
        ("@validateByteRange 32-126", "plain text", False),
        ("@validateByteRange 32-126,9", "tab\there", False),
        ("@validateByteRange 32-126", "nul\x00", True),
        ("@validateUrlEncoding", "a%20b", False),
        ("@validateUrlEncoding", "a%2", True),
        ("@validateUrlEncoding", "a%zzb", True),
        ("@validateUtf8Encoding", "caf\xc3\xa9", False),
        ("@validateUtf8Encoding", "caf\xc3", True),
        ("@validateUtf8Encoding", "\xc0\xaf", True),  # overlong '/'
    ],
)
def test_string_and_validation_operators(operator: str, value: str, hit: bool) -> None:
    rs = RuleSet.from_text(PREFIX + f'SecRule REQUEST_HEADERS:X-V "{operator}" "id:1,phase:1,pass"\n')
    tx = rs.new_transaction(client_ip="192.0.2.1", client_port=1, server_ip="127.0.0.1", server_port=80, unique_id="u")
    tx.process_request_line("GET", "/", "HTTP/1.1")
    tx.process_request_headers([("Host", "h"), ("X-V", value.encode("latin-1").decode("utf-8", "surrogateescape"))])
    assert ids(tx) == ([1] if hit else [])


def test_validate_byte_range_argument_is_checked() -> None:
    with pytest.raises(SecLangParseError, match="@validateByteRange: invalid range '300'"):
        RuleSet.from_text('SecRule ARGS "@validateByteRange 300" "id:1"\n')


def test_geo_lookup_and_rbl_are_reported_not_available() -> None:
    rs = RuleSet.from_text(
        PREFIX + 'SecRule REMOTE_ADDR "@geoLookup" "id:1,phase:1,pass"\n'
        'SecRule REMOTE_ADDR "@rbl sbl.example.org" "id:2,phase:1,pass"\n',
        source="geo.conf",
    )
    assert rs.notices == (
        "geo.conf:3: @geoLookup is not available (no GeoIP database); the rule never matches",
        "geo.conf:4: @rbl sbl.example.org is not available (no DNS blocklist lookups); the rule never matches",
    )
    assert ids(run(rs)) == []
