"""OWASP CRS 3.3.4, as Debian installs it, loaded unmodified and run through the engine.

The rules are read from /usr/share/modsecurity-crs and /etc/modsecurity/crs (never copied into
the repository); the setup text that picks the paranoia level is generated here, the way a site
policy does. Each check below is a classic CRS behaviour an operator relies on: the id that must
fire, the anomaly score it must reach, and what 949110 / 959100 decide from it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.waf.engine import RuleSet, Transaction
from tests.waf.crs.crs_runner import CRS_RULES, CRS_SETUP, load_crs

pytestmark = pytest.mark.skipif(not CRS_RULES.is_dir(), reason="Debian's modsecurity-crs is not installed")

UA = ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0")
BASE = [("Host", "www.example.com"), UA, ("Accept", "text/html")]
# The only notices a stock CRS load may leave: IP reputation lookups this engine cannot do.
EXPECTED_NOTICES = {"@geoLookup is not available", "@rbl dnsbl.httpbl.org is not available"}


@pytest.fixture(scope="session")
def crs(cache_dir: Path) -> dict[int, RuleSet]:
    return {pl: load_crs(pl, engine="On", cache_dir=cache_dir) for pl in (1, 2, 3, 4)}


def _ids_in_files() -> int:
    """Rule ids CRS defines (uncommented SecRule/SecAction starters), counted from the files."""
    count = 0
    for path in [CRS_SETUP, *sorted(CRS_RULES.glob("*.conf"))]:
        text = path.read_text("utf-8")
        live = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        count += len(re.findall(r"[\"',\s]id:\d+", live))
    return count


def send(
    rs: RuleSet,
    uri: str,
    *,
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    response: tuple[list[tuple[str, str]], bytes] | None = None,
) -> Transaction:
    headers = list(BASE if headers is None else headers)
    if body:
        headers.append(("Content-Length", str(len(body))))
    tx = rs.new_transaction(client_ip="192.0.2.10", client_port=50000, server_ip="127.0.0.1", server_port=80, unique_id="t")
    tx.process_request_line(method, uri, "HTTP/1.1")
    intervention = tx.process_request_headers(headers) or tx.process_request_body(body)
    if intervention is None and response is not None:
        tx.process_response_headers(200, response[0]) or tx.process_response_body(response[1])
    tx.process_logging()
    return tx


def logged(tx: Transaction) -> set[int]:
    return {m.id for m in tx.matched_rules if m.log}


@pytest.mark.parametrize("paranoia", [1, 2, 3, 4])
def test_loads_unmodified_at_every_paranoia_level(crs: dict[int, RuleSet], paranoia: int) -> None:
    rs = crs[paranoia]
    assert rs.rule_count == _ids_in_files() + 3  # + the three SecActions of the generated setup
    leftover = [n for n in rs.notices if not any(e in n for e in EXPECTED_NOTICES)]
    assert leftover == []
    assert rs.rule(949110) is not None and rs.rule(959100) is not None and rs.rule(980130) is not None
    assert rs.report.get("hyperscan", 0) > 200  # most @rx run on Hyperscan


def test_classic_sqli_reaches_the_threshold_and_949110_blocks(crs: dict[int, RuleSet]) -> None:
    tx = send(crs[1], "/?id=1%27%20or%201=1--")
    assert {942100, 949110, 980130} <= logged(tx)
    assert tx.anomaly_score >= 5 and int(tx.state.tx["sql_injection_score"]) >= 5
    assert tx.intervention is not None and (tx.intervention.status, tx.intervention.rule_id) == (403, 949110)


def test_higher_paranoia_adds_rules_to_the_same_request(crs: dict[int, RuleSet]) -> None:
    low, high = send(crs[1], "/?id=1%27%20or%201=1--"), send(crs[4], "/?id=1%27%20or%201=1--")
    assert 920273 not in logged(low) and 920273 in logged(high)  # PL4: characters outside a tight range
    assert high.anomaly_score > low.anomaly_score


@pytest.mark.parametrize("paranoia", [1, 4])
def test_benign_request_scores_zero(crs: dict[int, RuleSet], paranoia: int) -> None:
    tx = send(crs[paranoia], "/products/list?page=2&sort=name", headers=BASE + [("Accept-Language", "en")])
    assert logged(tx) == set() and tx.anomaly_score == 0 and tx.intervention is None


def test_920350_numeric_host_header(crs: dict[int, RuleSet]) -> None:
    tx = send(crs[1], "/", headers=[("Host", "10.1.2.3"), UA, ("Accept", "*/*")])
    assert 920350 in logged(tx) and tx.anomaly_score == 3 and tx.intervention is None  # warning only


def test_913100_scanner_user_agent_from_data_file(crs: dict[int, RuleSet]) -> None:
    tx = send(crs[1], "/", headers=[("Host", "www.example.com"), ("User-Agent", "sqlmap/1.7.2#stable"), ("Accept", "*/*")])
    assert 913100 in logged(tx) and tx.intervention is not None


def test_xss_is_detected_by_libinjection_and_regexes(crs: dict[int, RuleSet]) -> None:
    tx = send(crs[1], "/search?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert {941100, 941110} <= logged(tx)


def test_path_traversal_and_os_file_access(crs: dict[int, RuleSet]) -> None:
    tx = send(crs[1], "/download?file=../../../../etc/passwd")
    assert {930100, 930110, 930120} <= logged(tx)


def test_json_body_goes_through_the_json_processor(crs: dict[int, RuleSet]) -> None:
    body = b'{"user": {"name": "1\' or 1=1--"}}'
    tx = send(crs[1], "/api/users", method="POST", headers=BASE + [("Content-Type", "application/json")], body=body)
    hit = next(m for m in tx.matched_rules if m.id == 942100)
    assert hit.matched_var == "ARGS:json.user.name"


def test_xml_body_is_inspected_through_xpath(crs: dict[int, RuleSet]) -> None:
    body = b"<?xml version='1.0'?><order><note>1' or 1=1--</note></order>"
    tx = send(crs[1], "/soap", method="POST", headers=BASE + [("Content-Type", "text/xml")], body=body)
    hit = next(m for m in tx.matched_rules if m.id == 942100)
    assert hit.matched_var == "XML:/*" and tx.state.body == ""  # REQUEST_BODY stays empty after XML (v2)


def test_multipart_upload_of_a_php_file(crs: dict[int, RuleSet]) -> None:
    body = (
        b"--b0undary\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nholiday\r\n"
        b"--b0undary\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"shell.php\"\r\n"
        b"Content-Type: application/octet-stream\r\n\r\n<?php echo 1; ?>\r\n--b0undary--\r\n"
    )
    headers = BASE + [("Content-Type", "multipart/form-data; boundary=b0undary")]
    tx = send(crs[1], "/upload", method="POST", headers=headers, body=body)
    assert 933110 in logged(tx)
    assert tx.state.args_post == [("title", "holiday")]
    assert tx.state.multipart is not None and not tx.state.multipart.strict_error


def test_content_type_outside_the_allowed_list(crs: dict[int, RuleSet]) -> None:
    tx = send(crs[1], "/", method="POST", headers=BASE + [("Content-Type", "application/x-foo")], body=b"a=b")
    assert 920420 in logged(tx)


def test_response_sql_error_leak_blocks_in_phase_4(crs: dict[int, RuleSet]) -> None:
    page = b"<html>You have an error in your SQL syntax; check the manual for your MySQL server version</html>"
    tx = send(crs[1], "/", response=([("Content-Type", "text/html")], page))
    assert {951230, 959100} <= logged(tx)
    assert tx.intervention is not None and tx.intervention.rule_id == 959100


def test_detection_only_scores_but_never_interrupts(crs: dict[int, RuleSet]) -> None:
    tx = send(crs[1].with_engine_mode("DetectionOnly"), "/?id=1%27%20or%201=1--")
    assert {942100, 949110} <= logged(tx) and tx.intervention is None


def test_ip_collection_is_initialised_per_client(crs: dict[int, RuleSet]) -> None:
    tx = send(crs[1], "/")
    record = tx.state.collections["IP"]
    assert record.key.startswith("192.0.2.10_") and "GLOBAL" in tx.state.collections


def test_exclusions_remove_a_target_and_a_rule(cache_dir: Path) -> None:
    exclusion = (
        'SecRule REQUEST_FILENAME "@streq /login" '
        '"id:1000,phase:1,pass,nolog,ctl:ruleRemoveTargetById=942100;ARGS:password"'
    )
    rs = load_crs(1, engine="On", cache_dir=cache_dir, extra=exclusion)
    login = send(rs, "/login?password=1%27%20or%201=1--")
    other = send(rs, "/account?password=1%27%20or%201=1--")
    assert 942100 not in logged(login) and 942100 in logged(other)
    removed = RuleSet.from_text(
        f"Include {CRS_SETUP}\nInclude {CRS_RULES}/*.conf\nSecRuleRemoveById 920350\n",
        cache_dir=cache_dir,
        apache_escapes=True,
    )
    assert removed.rule(920350) is None
    tx = send(removed, "/", headers=[("Host", "10.1.2.3"), UA, ("Accept", "*/*")])
    assert 920350 not in logged(tx)


def test_load_ruleset_reads_only_the_named_files_with_apache_escapes(tmp_path: Path, cache_dir: Path) -> None:
    from services.waf.engine import load_ruleset

    own = tmp_path / "own.conf"
    own.write_text('SecRule ARGS "@rx \\\\\\\\d" "id:1,phase:2,pass"\n')  # four backslashes in the file; the v3 reading keeps them all
    files = [CRS_SETUP, *sorted(CRS_RULES.glob("*.conf"))]
    rs = load_ruleset([own, *files], cache_dir=cache_dir, apache_escapes=files)
    assert rs.rule(1).operator_argument == "\\\\\\\\d"  # type: ignore[union-attr]
    assert "\\\\[cdeghijklmpqwxyz123456789]" in rs.rule(920460).operator_argument  # type: ignore[union-attr]
