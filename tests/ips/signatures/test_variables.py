"""Address/port groups: Suricata's set semantics, variables, defaults, checked against a model."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ips.signatures import RuleVariables
from services.ips.signatures.variables import GroupError


def test_defaults_home_and_external() -> None:
    v = RuleVariables()
    home, ext = v.address_set("$HOME_NET"), v.address_set("$EXTERNAL_NET")
    for ip in ("10.1.2.3", "192.168.0.1", "172.31.255.255"):
        assert home.contains(ip) and not ext.contains(ip)
    for ip in ("8.8.8.8", "172.32.0.1", "2001:db8::1"):
        assert ext.contains(ip) and not home.contains(ip)
    assert v.port_set("$HTTP_PORTS").contains(80)
    assert v.port_set("$FILE_DATA_PORTS").contains(143) and not v.port_set("$FILE_DATA_PORTS").contains(25)
    assert not v.port_set("$SHELLCODE_PORTS").contains(80) and v.port_set("$SHELLCODE_PORTS").contains(81)


def test_negation_inside_list_and_nested_groups() -> None:
    v = RuleVariables()
    s = v.address_set("[1.2.3.0/24,!1.2.3.4]")
    assert s.contains("1.2.3.5") and not s.contains("1.2.3.4") and not s.contains("1.2.4.1")
    only_neg = v.address_set("[!1.2.3.4,!5.6.7.8]")
    assert only_neg.contains("9.9.9.9") and not only_neg.contains("5.6.7.8")
    nested = v.address_set("[10.0.0.0/8,![10.1.0.0/16,!10.1.2.3]]")
    assert nested.contains("10.2.0.1") and not nested.contains("10.1.9.9") and nested.contains("10.1.2.3")
    assert v.address_set("!$HOME_NET").contains("1.1.1.1")
    assert v.address_set("[1.1.1.1-1.1.1.5]").contains("1.1.1.3")
    v6 = v.address_set("[2001:db8::/32,!2001:db8::1]")
    assert v6.contains("2001:db8::2") and not v6.contains("2001:db8::1") and not v6.contains("10.0.0.1")
    assert v.address_set("[::ffff:0:0/96]").contains("::ffff:1.2.3.4") is False  # mapped → IPv4 1.2.3.4
    assert v.address_set("1.2.3.4").contains("::ffff:1.2.3.4")


def test_ports() -> None:
    v = RuleVariables()
    p = v.port_set("![80,443,8000:8100]")
    assert not p.contains(80) and not p.contains(8050) and p.contains(8101) and p.contains(22)
    assert v.port_set("1024:").contains(65535) and not v.port_set("1024:").contains(1023)
    assert v.port_set(":1023").contains(0)
    assert v.port_set("any").is_any and v.port_set("[80,[443,!443]]").contains(80)


def test_overrides_and_errors(tmp_path) -> None:
    cfg = tmp_path / "vars.yaml"
    cfg.write_text('vars:\n  address-groups:\n    HOME_NET: "[100.64.0.0/10]"\n  port-groups:\n    HTTP_PORTS: "[80,8080]"\n')
    v = RuleVariables.from_yaml(cfg)
    assert v.address_set("$HOME_NET").contains("100.64.1.1")
    assert v.address_set("$EXTERNAL_NET").contains("10.0.0.1")  # follows the new HOME_NET
    assert v.port_set("$HTTP_PORTS").contains(8080)
    loop = RuleVariables({"A": "$B", "B": "[$A]"})
    with pytest.raises(GroupError, match="refers to itself"):
        loop.address_set("$A")
    with pytest.raises(GroupError, match="undefined port variable"):
        v.port_set("$NOPE")
    with pytest.raises(GroupError, match="can never match"):
        v.address_set("[!any]")


_v4 = st.tuples(st.integers(0, 2**32 - 1), st.integers(16, 32))


@settings(max_examples=60, deadline=None)
@given(pos=st.lists(_v4, min_size=0, max_size=4), neg=st.lists(_v4, max_size=3), probes=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20))
def test_address_set_matches_model(pos, neg, probes) -> None:
    """[a,b,!c,!d]: in some positive (or no positives given) and in no negative."""
    def net(item):
        return ipaddress.ip_network((item[0], item[1]), strict=False)

    pos_nets, neg_nets = [net(p) for p in pos], [net(n) for n in neg]
    if not pos_nets and not neg_nets:
        return
    text = "[" + ",".join([str(n) for n in pos_nets] + ["!" + str(n) for n in neg_nets]) + "]"
    s = RuleVariables().address_set(text)
    for value in probes + [int(n.network_address) for n in pos_nets + neg_nets]:
        ip = ipaddress.IPv4Address(value)
        want = (not pos_nets or any(ip in n for n in pos_nets)) and not any(ip in n for n in neg_nets)
        assert s.contains(str(ip)) == want, (text, ip)


@settings(max_examples=60, deadline=None)
@given(ranges=st.lists(st.tuples(st.integers(0, 65535), st.integers(0, 300), st.booleans()), min_size=1, max_size=5),
       probes=st.lists(st.integers(0, 65535), max_size=20))
def test_port_set_matches_model(ranges, probes) -> None:
    items = [(lo, min(65535, lo + width), neg) for lo, width, neg in ranges]
    text = "[" + ",".join(f"{'!' if neg else ''}{lo}:{hi}" for lo, hi, neg in items) + "]"
    s = RuleVariables().port_set(text)
    pos = [(lo, hi) for lo, hi, neg in items if not neg]
    negs = [(lo, hi) for lo, hi, neg in items if neg]
    for port in probes + [lo for lo, _, _ in items]:
        want = (not pos or any(lo <= port <= hi for lo, hi in pos)) and not any(lo <= port <= hi for lo, hi in negs)
        assert s.contains(port) == want
