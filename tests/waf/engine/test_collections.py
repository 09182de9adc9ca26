"""Persistent collections (initcol, setvar on IP/GLOBAL, expirevar) kept in memory per RuleSet."""

from __future__ import annotations

import time

import pytest

from services.waf.engine import RuleSet
from services.waf.variables.persistent import PersistentStore
from tests.waf.engine.helpers import PREFIX, ids, run

RULES = (
    'SecAction "id:1,phase:1,pass,nolog,initcol:ip=%{REMOTE_ADDR},initcol:global=global"\n'
    'SecAction "id:2,phase:1,pass,nolog,setvar:ip.hits=+1,setvar:global.total=+1"\n'
    'SecRule IP:hits "@gt 2" "id:3,phase:1,deny,status:429,setvar:ip.blocked=1,expirevar:ip.blocked=60"\n'
    'SecRule IP:blocked "@eq 1" "id:4,phase:1,deny,status:403"\n'
)


def test_counters_persist_across_transactions_of_one_ruleset() -> None:
    rs = RuleSet.from_text(PREFIX + RULES)
    first, second, third = run(rs), run(rs), run(rs)
    assert first.intervention is None and second.intervention is None
    assert third.intervention is not None and third.intervention.status == 429
    record = third.state.collections["IP"]
    assert record.key == "192.0.2.10" and record.get("hits") == "3" and record.get("blocked") == "1"
    assert third.state.collections["GLOBAL"].get("total") == "3"
    assert not third.state.collections["IP"].is_new and run(RuleSet.from_text(PREFIX + RULES)).state.collections["IP"].is_new


def test_expirevar_removes_the_variable_when_its_time_has_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    store = PersistentStore(timeout=3600)
    record = store.open("IP", "198.51.100.1")
    record.set("blocked", "1")
    record.expire("blocked", 60)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 61)
    assert record.get("blocked") is None and ("blocked", "1") not in record.items()


def test_record_expires_after_the_collection_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    rs = RuleSet.from_text(PREFIX + "SecCollectionTimeout 10\n" + RULES)
    run(rs)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 11)
    assert run(rs).state.collections["IP"].get("hits") == "1"  # a fresh record


def test_builtin_record_variables_and_macros() -> None:
    rules = RULES + 'SecRule IP:KEY "@streq 192.0.2.10" "id:5,phase:1,pass,logdata:%{ip.hits}"\n'
    tx = run(rules)
    assert 5 in ids(tx) and next(m for m in tx.matched_rules if m.id == 5).logdata == "1"


def test_writing_a_collection_without_initcol_is_an_error_not_a_crash() -> None:
    tx = run('SecAction "id:1,phase:1,pass,setvar:ip.x=1,setvar:tx.after=1"\n')
    assert tx.state.tx["after"] == "1"
    assert tx.errors == ["rule 1: setvar:ip.x: collection IP is not initialised (no initcol ran for it)"]


def test_store_is_bounded_and_drops_the_least_recently_used_record(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.waf.variables import persistent

    monkeypatch.setattr(persistent, "MAX_RECORDS", 3)
    store = PersistentStore()
    for key in ("a", "b", "c"):
        store.open("IP", key).set("n", key)
    store.open("IP", "a")  # a is used again: b is now the oldest
    store.open("IP", "d")
    assert len(store) == 3
    assert store.open("IP", "a").get("n") == "a" and store.open("IP", "b").is_new
