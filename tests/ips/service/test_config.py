"""Tenancy ``ips_listeners`` and IPS rule packs."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ips.config import EngineKey, PackError, load_pack
from shared.config.tenancy import ConfigError, parse_tenancy


def tenancy(listeners: list[dict], ips: bool = True) -> dict:
    return {"tenants": [{"id": "acme", "vpcs": [{"id": "vpc-a", "firewall": {"ips": ips},
                                                 "ips_listeners": listeners}]}]}


def test_listener_fields_and_defaults() -> None:
    t = parse_tenancy(tenancy([{"name": "db", "listen": "127.0.0.1:9000", "upstream": "[::1]:5432",
                                "mode": "detect", "rulesets": ["core", "extra"],
                                "vars": {"HOME_NET": ["10.0.0.0/8", "127.0.0.0/8"], "HTTP_PORTS": 8080}}]))
    (lst,) = t.ips_listeners
    assert (lst.tenant_id, lst.vpc_id, lst.name) == ("acme", "vpc-a", "db")
    assert (lst.listen_host, lst.listen_port, lst.upstream_host, lst.upstream_port) == ("127.0.0.1", 9000, "::1", 5432)
    assert lst.mode == "detect" and lst.rulesets == ("core", "extra")
    assert dict(lst.variables) == {"HOME_NET": "[10.0.0.0/8,127.0.0.0/8]", "HTTP_PORTS": "8080"}
    assert lst.idle_timeout == 600.0 and lst.connect_timeout == 10.0
    # listeners of a VPC without the IPS subscribed are configured but not run
    assert parse_tenancy(tenancy([{"name": "db", "listen": "127.0.0.1:9000", "upstream": "h:1"}], ips=False)).ips_listeners == []


@pytest.mark.parametrize("listener, message", [
    ({"name": "x", "listen": "9000", "upstream": "h:1"}, "ips_listeners[0].listen: expected HOST:PORT"),
    ({"name": "x", "listen": "h:70000", "upstream": "h:1"}, "port out of range"),
    ({"name": "x", "listen": "h:1", "upstream": "h:1", "mode": "block"}, "ips_listeners[0].mode: expected one of"),
    ({"name": "x", "listen": "h:1", "upstream": "h:1", "vars": {"home_net": "any"}}, "expected a rule variable name"),
    ({"name": "x", "listen": "h:1", "upstream": "h:1", "vars": {"HOME_NET": "any; drop"}}, "vars.HOME_NET"),
    ({"name": "x", "listen": "h:1", "upstream": "h:1", "idle_timeout": 0}, "idle_timeout: expected seconds > 0"),
    ({"name": "x", "listen": "h:1", "upstream": "h:1", "port": 3}, "unknown field(s) port"),
])
def test_invalid_listeners_name_the_field(listener: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as err:
        parse_tenancy(tenancy([listener]))
    assert message in str(err.value)


def test_a_listen_address_belongs_to_one_listener() -> None:
    with pytest.raises(ConfigError, match=r"ips_listeners\[1\].listen: 127.0.0.1:9000 is already the listener acme/vpc-a/a"):
        parse_tenancy(tenancy([{"name": "a", "listen": "127.0.0.1:9000", "upstream": "h:1"},
                               {"name": "b", "listen": "127.0.0.1:9000", "upstream": "h:2"}]))


def test_listeners_with_the_same_packs_and_vars_share_an_engine() -> None:
    t = parse_tenancy(tenancy([
        {"name": "a", "listen": "h:1", "upstream": "u:1", "vars": {"HOME_NET": "any", "HTTP_PORTS": "80"}},
        {"name": "b", "listen": "h:2", "upstream": "u:2", "mode": "detect", "vars": {"HTTP_PORTS": "80", "HOME_NET": "any"}},
        {"name": "c", "listen": "h:3", "upstream": "u:3", "rulesets": ["other"]},
    ]))
    a, b, c = (EngineKey.of(x) for x in t.ips_listeners)
    assert a == b and a != c


def test_pack_manifest_lists_files_and_version(tmp_path: Path) -> None:
    pack = tmp_path / "local"
    pack.mkdir()
    (pack / "b.rules").write_text("")
    (pack / "a.rules").write_text("")
    assert [f.name for f in load_pack(tmp_path, "local").files] == ["a.rules", "b.rules"]
    assert load_pack(tmp_path, "local").label == "local@0"
    (pack / "manifest.yaml").write_text("name: local\nkind: ips\nversion: 1.2.0\nfiles: [b.rules]\n")
    loaded = load_pack(tmp_path, "local")
    assert loaded.label == "local@1.2.0" and [f.name for f in loaded.files] == ["b.rules"]
    (pack / "manifest.yaml").write_text("name: local\nkind: ips\nfiles: [missing.rules]\n")
    with pytest.raises(PackError, match="manifest.yaml: files: missing.rules does not exist"):
        load_pack(tmp_path, "local")
    with pytest.raises(PackError, match="no such IPS rule pack"):
        load_pack(tmp_path, "nope")
