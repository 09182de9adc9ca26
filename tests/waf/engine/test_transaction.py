"""Transaction lifecycle: engine modes, interventions, body limits, isolation of rule errors."""

from __future__ import annotations

from tests.waf.engine.helpers import ids, run, ruleset

DENY_X = 'SecRule ARGS "@rx x" "id:1,phase:2,deny,status:403,msg:\'x found\'"\nSecAction "id:2,phase:2,pass"\n'


def test_engine_on_intervenes_and_stops_the_phase() -> None:
    tx = run(DENY_X, "/?a=x")
    assert tx.intervention is not None
    assert (tx.intervention.status, tx.intervention.rule_id, tx.intervention.action, tx.intervention.msg) == (
        403, 1, "deny", "x found",
    )
    assert ids(tx) == [1]


def test_detection_only_records_but_never_intervenes() -> None:
    tx = run("SecRuleEngine DetectionOnly\n" + DENY_X, "/?a=x")
    assert tx.intervention is None
    assert ids(tx) == [1, 2]
    assert tx.matched_rules[0].disruptive is True
    rs = ruleset(DENY_X).with_engine_mode("DetectionOnly")
    assert run(rs, "/?a=x").intervention is None


def test_engine_off_evaluates_nothing() -> None:
    assert ids(run("SecRuleEngine Off\n" + DENY_X, "/?a=x")) == []


def test_later_phases_do_not_run_after_an_intervention() -> None:
    rules = 'SecAction "id:1,phase:1,deny,status:401"\nSecAction "id:2,phase:2,pass"\nSecAction "id:3,phase:3,pass"'
    rs = ruleset(rules)
    tx = rs.new_transaction(client_ip="192.0.2.1", client_port=1, server_ip="127.0.0.1", server_port=80, unique_id="u")
    tx.process_request_line("GET", "/", "HTTP/1.1")
    first = tx.process_request_headers([("Host", "h")])
    assert first is not None and first.status == 401
    assert tx.process_request_body(b"") is first
    assert tx.process_response_headers(200, []) is first
    assert ids(tx) == [1]


def test_body_limit_rejects_with_413_or_truncates_in_detection_only() -> None:
    rules = "SecRequestBodyLimit 8\n" + 'SecRule REQUEST_BODY "@contains tail" "id:1,phase:2,pass"\n'
    headers = [("Content-Type", "application/x-www-form-urlencoded")]
    tx = run(rules, "/", method="POST", headers=headers, body=b"0123456789tail")
    assert tx.intervention is not None and (tx.intervention.status, tx.intervention.rule_id) == (413, 0)
    assert "SecRequestBodyLimit (8 bytes)" in (tx.intervention.msg or "")
    detect = run("SecRuleEngine DetectionOnly\n" + rules, "/", method="POST", headers=headers, body=b"0123456789tail")
    assert detect.intervention is None and detect.state.body == "01234567"


def test_a_failing_rule_is_recorded_and_evaluation_continues() -> None:
    rules = (
        "SecAction \"id:1,phase:1,pass,nolog,setvar:'tx.pattern=(unclosed'\"\n"
        'SecRule ARGS "@rx %{tx.pattern}" "id:2,phase:2,deny"\n'
        'SecRule ARGS "@rx a" "id:3,phase:2,deny,status:406"\n'
    )
    tx = run(rules, "/?q=a")
    assert len(tx.errors) == 1 and tx.errors[0].startswith("rule 2 (test.conf:4): ValueError: @rx pattern after macro")
    assert tx.intervention is not None and tx.intervention.rule_id == 3


def test_anomaly_score_reads_tx() -> None:
    assert run('SecAction "id:1,phase:1,pass,setvar:tx.anomaly_score=+7"').anomaly_score == 7
    assert run('SecAction "id:1,phase:1,pass,setvar:tx.blocking_inbound_anomaly_score=9"').anomaly_score == 9
    assert run('SecAction "id:1,phase:1,pass"').anomaly_score == 0


def test_transactions_are_isolated() -> None:
    rs = ruleset('SecRule ARGS:a "@streq 1" "id:1,phase:2,pass,setvar:tx.seen=+1"')
    assert run(rs, "/?a=1").state.tx == {"seen": "1"}
    assert run(rs, "/?a=2").state.tx == {}
    assert run(rs, "/?a=1").state.tx == {"seen": "1"}


def test_non_utf8_input_is_byte_exact() -> None:
    # aiohttp hands over undecodable bytes as surrogate escapes; rules see the original bytes.
    tx = run('SecRule REQUEST_HEADERS:X-Raw "@rx ^\\xff\\xfe$" "id:1,phase:1,pass"', headers=[("X-Raw", b"\xff\xfe".decode("utf-8", "surrogateescape"))])
    assert ids(tx) == [1]
