"""Site policies: packs, CRS settings and exclusions become one compiled rule set per site."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.waf.policy import PackError, PolicyStore, exclusion_text
from shared.config.tenancy import ConfigError, parse_tenancy

PACK = """
SecRuleEngine On
SecRequestBodyAccess On
SecRule ARGS "@contains evil" "id:3001,phase:2,deny,status:403,log,tag:'attack-test',msg:'evil arg'"
SecRule REQUEST_HEADERS:User-Agent "@contains badbot" "id:3002,phase:1,deny,status:403,log,msg:'bad bot'"
"""


def tenancy(exclusions: list[dict] | None = None, rulesets: list[str] | None = None, **extra):
    site = {"name": "s", "hosts": ["s.local"], "upstream": "http://127.0.0.1:9", "rulesets": rulesets or ["p"],
            "exclusions": exclusions or [], **extra}
    return parse_tenancy({"tenants": [{"id": "t", "vpcs": [{"id": "v", "sites": [site]}]}]})


@pytest.fixture
def store(tmp_path: Path) -> PolicyStore:
    (tmp_path / "rules" / "p").mkdir(parents=True)
    (tmp_path / "rules" / "p" / "p.conf").write_text(PACK)
    (tmp_path / "rules" / "p" / "manifest.yaml").write_text(yaml.safe_dump({"name": "p", "version": "2.1.0"}))
    return PolicyStore(tmp_path / "rules", tmp_path / "cache")


def run(store: PolicyStore, ten, uri: str, ua: str = "curl/8") -> list[int]:
    store.reload(ten)
    policy = store.policy(ten.sites[0])
    tx = policy.ruleset.new_transaction(client_ip="127.0.0.1", client_port=1, server_ip="127.0.0.1",
                                        server_port=2, unique_id="x")
    tx.process_request_line("GET", uri, "HTTP/1.1")
    if tx.process_request_headers([("Host", "s.local"), ("User-Agent", ua)]) is None:
        tx.process_request_body(b"")
    return [m.id for m in tx.matched_rules if m.log]


def test_pack_label_and_rules(store: PolicyStore) -> None:
    ten = tenancy()
    assert run(store, ten, "/?q=evil") == [3001]
    assert store.policy(ten.sites[0]).ruleset_label == "p@2.1.0"


def test_exclusion_by_id_tag_target_and_path(store: PolicyStore) -> None:
    assert run(store, tenancy([{"rule_id": 3001}]), "/?q=evil") == []
    assert run(store, tenancy([{"tag": "attack-test"}]), "/?q=evil") == []
    ten = tenancy([{"rule_id": 3001, "target": "ARGS:q"}])
    assert run(store, ten, "/?q=evil") == []
    assert run(store, ten, "/?other=evil") == [3001]
    ten = tenancy([{"rule_id": 3001, "path": "/search"}, {"rule_id": 3002, "path": "/bots", "target": None}])
    assert run(store, ten, "/search?q=evil") == []
    assert run(store, ten, "/elsewhere?q=evil") == [3001]
    assert run(store, ten, "/bots/list", ua="badbot") == []
    assert run(store, ten, "/", ua="badbot") == [3002]
    ten = tenancy([{"tag": "attack-test", "target": "ARGS:q", "path": "/search"}])
    assert run(store, ten, "/search?q=evil") == []
    assert run(store, ten, "/search?x=evil") == [3001]


@pytest.mark.parametrize("exclusion,field", [
    ({"rule_id": 1, "tag": "x"}, "exclusions[0]"),
    ({"rule_id": "1; SecRuleEngine Off"}, "exclusions[0].rule_id"),
    ({"tag": 'x" "id:1'}, "exclusions[0].tag"),
    ({"rule_id": 1, "target": "ARGS:a\"b"}, "exclusions[0].target"),
    ({"rule_id": 1, "path": "/a\" \"b"}, "exclusions[0].path"),
])
def test_exclusions_cannot_inject_seclang(exclusion: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        tenancy([exclusion])
    assert field in str(info.value)


def test_generated_text_orders_path_rules_first_and_removals_last() -> None:
    before, after = exclusion_text(tenancy([{"rule_id": 5}, {"rule_id": 6, "path": "/p"}]).sites[0].exclusions)
    assert "ctl:ruleRemoveById=6" in before and "SecRuleRemoveById 5" in after


def test_missing_pack_is_a_clear_error_and_keeps_previous(store: PolicyStore) -> None:
    good = tenancy()
    store.reload(good)
    generation = store.generation
    with pytest.raises(PackError, match="nosuch"):
        store.reload(tenancy(rulesets=["nosuch"]))
    assert store.generation == generation and store.policy(good.sites[0]) is not None


def test_crs_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="paranoia_level"):
        tenancy(rulesets=["crs"], crs={"paranoia_level": 5})
    assert tenancy(rulesets=["crs"]).sites[0].crs.paranoia_level == 1
