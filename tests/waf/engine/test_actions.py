"""Actions: setvar and macros, chains, skipAfter, block and SecDefaultAction, ctl, metadata."""

from __future__ import annotations

from tests.waf.engine.helpers import ids, run, ruleset


def test_setvar_forms_and_macros() -> None:
    rules = (
        'SecAction "id:1,phase:1,pass,nolog,setvar:tx.a=5,setvar:tx.b,setvar:tx.gone=1,'
        "setvar:'tx.msg=hello %{REMOTE_ADDR}'\"\n"
        'SecAction "id:2,phase:1,pass,nolog,setvar:tx.a=+10,setvar:TX.A=-3,setvar:!tx.gone,'
        'setvar:tx.new=-2,setvar:tx.%{tx.b}_key=%{tx.a}"\n'
    )
    tx = run(rules)
    assert tx.state.tx == {"a": "12", "b": "1", "msg": "hello 192.0.2.10", "new": "-2", "1_key": "12"}


def test_setvar_runs_once_per_matched_value_and_rule_macros() -> None:
    rules = (
        'SecRule ARGS "@rx x" "id:42,phase:2,pass,msg:\'found x\','
        "setvar:tx.hits=+1,setvar:'tx.last=%{rule.id} %{rule.msg} %{MATCHED_VAR_NAME}'\"\n"
    )
    tx = run(rules, "/?a=x&b=y&c=xx")
    assert tx.state.tx["hits"] == "2"
    assert tx.state.tx["last"] == "42 found x ARGS:c"
    assert len(tx.matched_rules) == 1 and tx.matched_rules[0].matched_var == "ARGS:c"


def test_chain_matches_only_when_every_link_matches() -> None:
    rules = (
        'SecRule REQUEST_METHOD "@streq POST" "id:1,phase:2,deny,status:409,msg:\'chained\',chain,setvar:tx.s1=1"\n'
        '  SecRule ARGS:a "@streq 1" "chain,setvar:tx.s2=1"\n'
        '  SecRule REQUEST_HEADERS:X-Test "@streq yes" "setvar:tx.s3=1"\n'
    )
    hdr = [("Host", "h"), ("X-Test", "yes")]
    tx = run(rules, "/?a=1", method="POST", headers=hdr)
    assert tx.intervention is not None and tx.intervention.status == 409 and tx.intervention.msg == "chained"
    assert {k: tx.state.tx[k] for k in ("s1", "s2", "s3")} == {"s1": "1", "s2": "1", "s3": "1"}
    assert tx.matched_rules[0].matched_var == "REQUEST_HEADERS:X-Test"
    partial = run(rules, "/?a=2", method="POST", headers=hdr)
    assert partial.intervention is None and partial.matched_rules == []
    # As in ModSecurity, a link's setvar runs as soon as that link matches (CRS 920440 relies on
    # it); links after the first failing one never run, and nothing is logged or enforced.
    assert partial.state.tx.get("s1") == "1" and "s2" not in partial.state.tx


def test_skip_after_marker_and_rule_id() -> None:
    rules = (
        'SecRule ARGS:skip "@streq 1" "id:1,phase:2,pass,nolog,skipAfter:END"\n'
        'SecAction "id:2,phase:2,pass"\n'
        "SecMarker END\n"
        'SecAction "id:3,phase:2,pass"\n'
        'SecRule ARGS:skip "@streq 1" "id:4,phase:2,pass,skipAfter:5"\n'
        'SecAction "id:5,phase:2,pass"\n'
        'SecAction "id:6,phase:2,pass"\n'
    )
    assert ids(run(rules, "/?skip=1")) == [1, 3, 4, 6]
    assert ids(run(rules, "/?skip=0")) == [2, 3, 5, 6]


def test_skip_after_unknown_target_is_a_notice() -> None:
    rs = ruleset('SecAction "id:1,phase:2,pass,skipAfter:NOWHERE"\nSecAction "id:2,phase:2,pass"')
    assert any("skipAfter:NOWHERE names no SecMarker" in n for n in rs.notices)
    assert ids(run(rs)) == [1]


def test_block_uses_the_phase_default_action() -> None:
    rules = (
        'SecDefaultAction "phase:1,log,pass"\n'
        'SecDefaultAction "phase:2,log,deny,status:418"\n'
        'SecRule ARGS:a "@streq 1" "id:1,phase:1,block"\n'
        'SecRule ARGS:a "@streq 1" "id:2,phase:2,block"\n'
    )
    tx = run(rules, "/?a=1")
    assert ids(tx) == [1, 2]
    assert tx.intervention is not None and (tx.intervention.status, tx.intervention.rule_id) == (418, 2)


def test_default_action_inherited_by_rules_without_disruptive_action() -> None:
    rules = (
        'SecRule ARGS:a "@streq 1" "id:1,phase:2"\n'  # before any SecDefaultAction: pass
        'SecDefaultAction "phase:2,nolog,deny,status:403,t:lowercase"\n'
        'SecRule ARGS:a "@streq x" "id:2,phase:2"\n'
        'SecRule ARGS:a "@streq X" "id:3,phase:2,t:none,pass"\n'
    )
    tx = run(rules, "/?a=X")
    assert ids(tx) == [2]
    assert tx.intervention is not None and tx.intervention.rule_id == 2
    assert tx.matched_rules[0].log is False
    assert ids(run(rules, "/?a=1")) == [1]
    rs = ruleset(rules)
    rule3 = rs.rule(3)
    assert rule3 is not None and rule3.transform_names == () and rule3.disruptive == "pass"


def test_metadata_is_reported() -> None:
    rules = (
        'SecRule ARGS "@rx evil" "id:1000100,phase:2,deny,status:403,msg:\'Bad %{MATCHED_VAR_NAME}\','
        "logdata:'data=%{MATCHED_VAR}',severity:CRITICAL,tag:attack-x,tag:'OWASP_TOP_10/A03',"
        "ver:'v1',rev:2,maturity:9,accuracy:8\"\n"
        'SecRule ARGS "@rx evil" "id:2,phase:1,pass,severity:4,nolog,noauditlog"\n'
    )
    tx = run(rules, "/?q=very+evil")
    [second, first] = tx.matched_rules
    assert (second.id, second.severity, second.log) == (2, 4, False)
    assert first.id == 1000100 and first.msg == "Bad ARGS:q" and first.logdata == "data=very evil"
    assert first.severity == 2 and first.tags == ("attack-x", "OWASP_TOP_10/A03")
    assert first.disruptive and first.phase == 2 and first.matched_data == "very evil"
    rule = ruleset(rules).rule(1000100)
    assert rule is not None and (rule.ver, rule.rev, rule.maturity, rule.accuracy) == ("v1", "2", 9, 8)


def test_ctl_rule_remove_and_engine() -> None:
    rules = (
        'SecRule REQUEST_FILENAME "@beginsWith /upload" "id:1,phase:1,pass,nolog,ctl:ruleRemoveById=10-11,'
        'ctl:ruleRemoveByTag=noisy,ctl:auditEngine=Off"\n'
        'SecRule REQUEST_FILENAME "@beginsWith /quiet" "id:2,phase:1,pass,nolog,ctl:ruleEngine=DetectionOnly"\n'
        'SecRule ARGS "@rx x" "id:10,phase:2,deny"\n'
        'SecRule ARGS "@rx x" "id:12,phase:2,deny,tag:noisy"\n'
        'SecRule ARGS "@rx x" "id:13,phase:2,deny"\n'
    )
    upload = run(rules, "/upload?a=x")
    assert ids(upload) == [1, 13] and upload.intervention is not None and upload.intervention.rule_id == 13
    assert upload.ctl_log == [("ruleRemoveById", "10-11"), ("ruleRemoveByTag", "noisy"), ("auditEngine", "Off")]
    quiet = run(rules, "/quiet?a=x")
    assert ids(quiet) == [2, 10, 12, 13] and quiet.intervention is None


def test_ctl_request_body_processor() -> None:
    rules = (
        'SecRule REQUEST_HEADERS:Content-Type "@contains text/plain" "id:1,phase:1,pass,nolog,ctl:requestBodyProcessor=JSON"\n'
        'SecRule ARGS:json.k "@streq v" "id:2,phase:2,pass"\n'
    )
    tx = run(rules, "/", method="POST", headers=[("Content-Type", "text/plain")], body=b'{"k": "v"}')
    assert ids(tx) == [1, 2]


def test_multi_match_checks_every_transformation_step() -> None:
    rules = 'SecRule ARGS "@streq %41" "id:1,phase:2,pass,t:urlDecode,{}"\n'
    assert ids(run(rules.format("multiMatch"), "/?a=%2541")) == [1]
    assert ids(run(rules.format("log"), "/?a=%2541")) == []


def test_allow_stops_inspection() -> None:
    rules = (
        'SecRule REMOTE_ADDR "@streq 192.0.2.10" "id:1,phase:1,allow,nolog"\n'
        'SecAction "id:2,phase:1,deny"\n'
        'SecAction "id:3,phase:2,deny"\n'
        'SecAction "id:4,phase:5,pass"\n'
    )
    tx = run(rules)
    assert ids(tx) == [1, 4] and tx.intervention is None
    phase_only = run(rules.replace("allow,", "allow:phase,"))
    assert ids(phase_only) == [1, 3, 4] and phase_only.intervention is not None  # phase 5 always runs


def test_redirect_and_drop() -> None:
    tx = run('SecRule ARGS "@rx x" "id:1,phase:2,redirect:\'https://example.gov/blocked?r=%{rule.id}\'"', "/?a=x")
    assert tx.intervention is not None
    assert (tx.intervention.status, tx.intervention.action, tx.intervention.url) == (302, "redirect", "https://example.gov/blocked?r=1")
    tx = run('SecRule ARGS "@rx x" "id:1,phase:2,drop"', "/?a=x")
    assert tx.intervention is not None and tx.intervention.action == "drop"
