"""Rule tuning directives, ctl options and body settings CRS deployments use."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.waf.engine import RuleSet, SecLangParseError
from tests.waf.engine.helpers import PREFIX, ids, run

SQLI = (
    'SecRule ARGS "@rx (?i)union.+select" "id:10,phase:2,deny,tag:\'attack-sqli\',msg:\'SQLi union\'"\n'
    'SecRule ARGS "@rx (?i)<script" "id:20,phase:2,deny,tag:\'attack-xss\',msg:\'XSS script\'"\n'
)
ATTACK = "/?q=union%20all%20select&p=%3Cscript"


def test_remove_by_id_tag_and_msg() -> None:
    assert ids(run(SQLI + "SecRuleRemoveById 10\n", ATTACK)) == [20]
    assert ids(run(SQLI + "SecRuleRemoveByTag ^attack-xss$\n", ATTACK)) == [10]
    assert ids(run(SQLI + "SecRuleRemoveByMsg union\n", ATTACK)) == [20]
    rs = RuleSet.from_text(PREFIX + SQLI + "SecRuleRemoveById 10-19 99\n")
    assert rs.rule(10) is None and rs.rule_count == 1


def test_remove_matching_nothing_leaves_a_notice() -> None:
    rs = RuleSet.from_text(PREFIX + SQLI + "SecRuleRemoveById 777\n", source="tune.conf")
    assert rs.notices == ("tune.conf:5: SecRuleRemoveById 777 matches no rule loaded so far",)


def test_update_target_by_id_and_tag() -> None:
    assert ids(run(SQLI + "SecRuleUpdateTargetById 10 !ARGS:q\n", ATTACK)) == [20]
    added = run(SQLI + "SecRuleUpdateTargetByTag attack-sqli REQUEST_HEADERS:X-Q\n", "/",
                headers=[("Host", "h"), ("X-Q", "UNION x SELECT")])
    assert ids(added) == [10]
    replaced = RuleSet.from_text(PREFIX + SQLI + "SecRuleUpdateTargetById 10 ARGS_GET ARGS\n")
    assert [t.text for t in replaced.rule(10).targets] == ["ARGS_GET"]  # type: ignore[union-attr]


def test_update_action_by_id_changes_disruptive_and_metadata() -> None:
    tx = run(SQLI + "SecRuleUpdateActionById 10 \"pass,msg:'tuned',t:lowercase\"\n", "/?q=union%20x%20select")
    assert tx.intervention is None and tx.matched_rules[0].msg == "tuned"
    with pytest.raises(SecLangParseError, match="cannot change the id"):
        RuleSet.from_text(PREFIX + SQLI + 'SecRuleUpdateActionById 10 "id:11"\n')


def test_skip_jumps_over_rules_and_counts_a_chain_once() -> None:
    rules = (
        'SecAction "id:1,phase:1,pass,nolog,skip:2"\n'
        'SecAction "id:2,phase:1,pass,chain"\n  SecRule REQUEST_METHOD "@streq GET" "t:none"\n'
        'SecAction "id:3,phase:1,pass"\n'
        'SecAction "id:4,phase:1,pass"\n'
    )
    assert ids(run(rules)) == [1, 4]


def test_ctl_remove_target_by_tag_and_rule_by_msg() -> None:
    by_tag = 'SecAction "id:1,phase:1,pass,nolog,ctl:ruleRemoveTargetByTag=attack-sqli;ARGS:q"\n'
    assert ids(run(by_tag + SQLI, ATTACK)) == [1, 20]
    by_regex = 'SecAction "id:1,phase:1,pass,nolog,ctl:ruleRemoveTargetById=10-19;ARGS:/^[qp]$/"\n'
    assert ids(run(by_regex + SQLI, ATTACK)) == [1, 20]
    by_msg = 'SecAction "id:1,phase:1,pass,nolog,ctl:ruleRemoveByMsg=XSS script"\n'
    assert ids(run(by_msg + SQLI, ATTACK)) == [1, 10]


def test_ctl_audit_engine_and_force_request_body_variable() -> None:
    rules = (
        'SecAction "id:1,phase:1,pass,nolog,ctl:auditEngine=Off,ctl:forceRequestBodyVariable=On"\n'
        'SecRule REQUEST_BODY "@contains secret" "id:2,phase:2,pass"\n'
    )
    tx = run(rules, "/", method="POST", headers=[("Host", "h"), ("Content-Type", "text/plain")], body=b"a secret")
    assert tx.audit_engine == "Off" and ids(tx) == [1, 2]
    plain = run(rules.replace("ctl:forceRequestBodyVariable=On", "ctl:forceRequestBodyVariable=Off"), "/",
                method="POST", headers=[("Host", "h"), ("Content-Type", "text/plain")], body=b"a secret")
    assert ids(plain) == [1]  # no processor and not forced: REQUEST_BODY stays empty (ModSecurity v2)


def test_ctl_request_body_processor_urlencoded_for_plain_text() -> None:
    rules = (
        'SecRule REQUEST_HEADERS:Content-Type "@beginsWith text/plain" '
        '"id:1,phase:1,pass,nolog,ctl:requestBodyProcessor=URLENCODED"\n'
        'SecRule ARGS_POST:a "@streq b" "id:2,phase:2,pass"\n'
        'SecRule REQBODY_PROCESSOR "@streq URLENCODED" "id:3,phase:2,pass"\n'
    )
    tx = run(rules, "/", method="POST", headers=[("Host", "h"), ("Content-Type", "text/plain")], body=b"a=b")
    assert ids(tx) == [1, 2, 3]


def test_response_body_access_respects_mime_types_and_limit() -> None:
    rules = (
        "SecResponseBodyAccess On\nSecResponseBodyMimeTypesClear\nSecResponseBodyMimeType text/html application/json\n"
        "SecResponseBodyLimit 64\nSecResponseBodyLimitAction ProcessPartial\n"
        'SecRule RESPONSE_BODY "@contains leak" "id:1,phase:4,deny"\n'
        'SecRule RESPONSE_CONTENT_TYPE "@beginsWith text/" "id:2,phase:3,pass"\n'
    )
    rs = RuleSet.from_text(PREFIX + rules)

    def respond(content_type: str, body: bytes):  # type: ignore[no-untyped-def]
        tx = rs.new_transaction(client_ip="192.0.2.1", client_port=1, server_ip="127.0.0.1", server_port=80, unique_id="u")
        tx.process_request_line("GET", "/", "HTTP/1.1")
        tx.process_request_headers([("Host", "h")])
        tx.process_request_body(b"")
        tx.process_response_headers(200, [("Content-Type", content_type)])
        return tx, tx.process_response_body(body)

    tx, intervention = respond("text/html; charset=utf-8", b"a leak")
    assert intervention is not None and intervention.rule_id == 1 and ids(tx) == [2, 1]
    assert respond("image/png", b"a leak")[1] is None  # not a listed type: never buffered
    assert respond("application/json", b"x" * 64 + b"leak")[1] is None  # past the limit, partial


def test_request_body_nofiles_and_arguments_limits() -> None:
    nofiles = run("SecRequestBodyNoFilesLimit 8\n", "/", method="POST",
                  headers=[("Host", "h"), ("Content-Type", "application/x-www-form-urlencoded")], body=b"a=0123456789")
    assert nofiles.intervention is not None and nofiles.intervention.status == 413
    assert "SecRequestBodyNoFilesLimit (8 bytes)" in (nofiles.intervention.msg or "")
    rules = 'SecArgumentsLimit 2\nSecRule REQBODY_ERROR "@eq 1" "id:1,phase:2,pass,logdata:%{REQBODY_ERROR_MSG}"\n'
    tx = run(rules, "/?a=1&b=2", method="POST",
             headers=[("Host", "h"), ("Content-Type", "application/x-www-form-urlencoded")], body=b"c=3")
    assert tx.matched_rules[0].logdata == "Request exceeded SecArgumentsLimit (3 > 2 arguments)"


def test_apache_escapes_read_double_backslash_as_one() -> None:
    rule = PREFIX + 'SecRule ARGS "@rx \\\\\\\\[dp]" "id:1,phase:2,pass"\n'  # file text: @rx \\\\[dp]
    v2 = RuleSet.from_text(rule, apache_escapes=True)
    v3 = RuleSet.from_text(rule)
    assert ids(run(v2, "/?f=pa%5Cssw%5Cd")) == [1]  # one backslash, as CRS 920460 means it
    assert ids(run(v3, "/?f=pa%5Cssw%5Cd")) == [] and ids(run(v3, "/?f=%5C%5Cd")) == [1]


def test_capture_is_per_value_for_each_setvar() -> None:
    rules = (
        'SecRule REQUEST_HEADERS_NAMES "@rx ^x-.*$" "id:1,phase:1,pass,capture,t:lowercase,'
        "setvar:'tx.h_%{tx.0}=/%{tx.0}/'\"\n"
    )
    tx = run(rules, headers=[("Host", "h"), ("X-One", "1"), ("X-Two", "2")])
    assert tx.state.tx["h_x-one"] == "/x-one/" and tx.state.tx["h_x-two"] == "/x-two/"


def test_matched_vars_carry_what_the_previous_link_found() -> None:
    rules = (
        'SecRule ARGS "@rx ^a" "id:1,phase:2,pass,chain"\n'
        '  SecRule MATCHED_VARS "@rx b$" "setvar:tx.names=%{MATCHED_VAR_NAME}"\n'
    )
    assert ids(run(rules, "/?x=ab&y=ac")) == [1]
    assert ids(run(rules, "/?x=ac&y=zb")) == []


def test_xml_xpath_selects_elements_and_attributes() -> None:
    rules = (
        'SecRule XML:/* "@contains inner" "id:1,phase:2,pass"\n'
        'SecRule XML://@* "@streq evil" "id:2,phase:2,pass"\n'
        'SecRule XML://item/text() "@streq inner" "id:3,phase:2,pass"\n'
        'SecRule REQBODY_ERROR "@eq 1" "id:4,phase:2,pass"\n'
    )
    headers = [("Host", "h"), ("Content-Type", "application/xml")]
    tx = run(rules, "/", method="POST", headers=headers, body=b'<r><item a="evil">inner</item></r>')
    assert ids(tx) == [1, 2, 3]
    xxe = b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    safe = run(rules + 'SecRule XML:/* "@contains root:" "id:5,phase:2,pass"\n', "/", method="POST", headers=headers, body=xxe)
    assert safe.state.xml is not None and 5 not in ids(safe)  # the external entity is never loaded
    assert ids(run(rules, "/", method="POST", headers=headers, body=b"<r><unclosed></r>")) == [4]


def test_no_effect_directives_are_accepted_with_a_reason() -> None:
    rs = RuleSet.from_text("SecTmpDir /tmp\nSecPcreMatchLimit 1000\n", source="m.conf")
    assert rs.notices == (
        "m.conf:1: SecTmpDir has no effect here: request bodies are kept in memory",
        "m.conf:2: SecPcreMatchLimit has no effect here: regexes run on Hyperscan / Python re, which have no PCRE match limit",
    )


def test_include_optional_accepts_an_empty_glob(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()
    rs = RuleSet.from_text("IncludeOptional plugins/*-config.conf\n", source="crs4.conf", base_dir=tmp_path)
    assert rs.notices == ("crs4.conf:1: IncludeOptional 'plugins/*-config.conf' matches no file",)
    with pytest.raises(SecLangParseError, match="matches no file"):
        RuleSet.from_text("Include plugins/*-config.conf\n", base_dir=tmp_path)
