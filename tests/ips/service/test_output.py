"""EVE records and common alerts made from real engine hits, checked against both JSON Schemas."""

from __future__ import annotations

import base64
import json

import pytest

from services.ips.config import build_for_packs
from services.ips.model import Direction, FlowTuple
from services.ips.output.alerts import AlertContext, common_alert, event_action, severity
from services.ips.output.eve import alert_action, dumps, eve_alert, eve_timestamp, printable, validate_eve
from services.ips.proxy import ProxyFlow
from shared.events import validate_alert
from tests.ips.service.rules import write_pack

CLIENT = FlowTuple("tcp", "10.0.0.5", 51514, "10.0.0.9", 80)
TS = 1795808401.123456  # 2026-11-27T19:40:01.123456Z


def test_timestamps_are_suricatas_format() -> None:
    assert eve_timestamp(TS) == "2026-11-27T19:40:01.123456+0000"
    assert eve_timestamp(1795808401.9999999) == "2026-11-27T19:40:02.000000+0000"
    assert eve_timestamp(0) == "1970-01-01T00:00:00.000000+0000"


def test_payload_printable_keeps_printable_ascii_and_crlf() -> None:
    assert printable(b"GET /\r\n\x00\x7f\xffA\tz ~") == "GET /\r\n...A.z ~"


def test_action_mappings() -> None:
    assert alert_action("drop", prevent=True) == "blocked"
    assert alert_action("reject", prevent=True) == "blocked"
    assert alert_action("drop", prevent=False) == "allowed"
    assert alert_action("alert", prevent=True) == "allowed"
    assert event_action("drop", prevent=True) == "dropped"
    assert event_action("reject", prevent=False) == "alerted"
    assert event_action("alert", prevent=True) == "alerted"
    assert [severity(p) for p in (None, 0, 1, 2, 4, 7, 255)] == [3, 1, 1, 2, 4, 4, 4]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("packs")
    write_pack(root)
    return build_for_packs(root, ("t",), None, None)


def run_flow(built, exchanges: list[tuple[Direction, bytes]]) -> tuple[list, ProxyFlow]:
    flow = ProxyFlow(flow_id=1459180393406201, tuple=CLIENT, start_ts=TS)
    det = built.engine.new_flow(CLIENT, flow_id=flow.flow_id, ts=TS)
    det.on_established(TS)
    hits = []
    ts = TS
    for direction, data in exchanges:
        ts += 0.001
        if direction is Direction.TO_SERVER:
            flow.pkts_toserver += 1
            flow.bytes_toserver += len(data)
        else:
            flow.pkts_toclient += 1
            flow.bytes_toclient += len(data)
        hits += det.on_packet(direction, data, ts, tcp_flags=0x18)
        hits += det.on_stream(direction, data, ts)
    hits += det.on_close(ts + 0.001)
    return hits, flow


REQUEST = b"GET /admin/users HTTP/1.1\r\nHost: Shop.Example:8080\r\nUser-Agent: probe/1.0\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 21\r\n\r\nSECRET-TOKEN=\x00\x01abcdef"


def test_eve_records_from_engine_hits(built) -> None:
    hits, flow = run_flow(built, [(Direction.TO_SERVER, REQUEST), (Direction.TO_CLIENT, RESPONSE)])
    by_sid = {h.sig.sid: h for h in hits}
    assert {9100001, 9100004} <= set(by_sid)

    http = validate_eve(eve_alert(by_sid[9100001], flow, prevent=True))
    assert http["event_type"] == "alert" and http["flow_id"] == 1459180393406201
    assert (http["src_ip"], http["src_port"], http["dest_ip"], http["dest_port"]) == ("10.0.0.5", 51514, "10.0.0.9", 80)
    assert http["proto"] == "TCP" and http["direction"] == "to_server" and http["app_proto"] == "http"
    assert http["alert"] == {"action": "allowed", "gid": 1, "signature_id": 9100001, "rev": 2,
                             "signature": "TEST admin path", "category": "Web Application Attack", "severity": 1,
                             "metadata": {"created_at": ["2026_11_27"], "scope": ["test"]}}
    assert http["http"]["url"] == "/admin/users" and http["http"]["hostname"] == "shop.example"
    assert http["flow"]["start"] == "2026-11-27T19:40:01.123456+0000"
    assert (http["flow"]["src_ip"], http["flow"]["dest_port"]) == ("10.0.0.5", 80)
    assert b"/admin" in base64.b64decode(http["payload"])
    assert "pcap_cnt" not in http

    leak = validate_eve(eve_alert(by_sid[9100004], flow, prevent=True, pcap_cnt=7))
    # a to_client hit: the packet's source is the server, the flow object keeps the client first
    assert (leak["src_ip"], leak["src_port"], leak["dest_ip"], leak["dest_port"]) == ("10.0.0.9", 80, "10.0.0.5", 51514)
    assert leak["direction"] == "to_client" and leak["pcap_cnt"] == 7
    assert leak["flow"]["src_ip"] == "10.0.0.5"
    assert leak["flow"]["bytes_toclient"] == len(RESPONSE) and leak["flow"]["pkts_toserver"] == 1
    assert "SECRET-TOKEN" in leak["payload_printable"] and "\x00" not in leak["payload_printable"]
    assert b"SECRET-TOKEN" in base64.b64decode(leak["payload"])
    assert json.loads(dumps(leak)) == leak


def test_drop_is_blocked_only_when_enforced(built) -> None:
    hits, flow = run_flow(built, [(Direction.TO_SERVER, b"hello EVIL-DROP there")])
    (hit,) = [h for h in hits if h.sig.sid == 9100002]
    assert hit.action == "drop"
    assert validate_eve(eve_alert(hit, flow, prevent=True))["alert"]["action"] == "blocked"
    assert validate_eve(eve_alert(hit, flow, prevent=False))["alert"]["action"] == "allowed"


def test_common_alerts_validate_and_carry_the_flow(built) -> None:
    hits, flow = run_flow(built, [(Direction.TO_SERVER, REQUEST + b"EVIL-DROP"), (Direction.TO_CLIENT, RESPONSE)])
    ctx = AlertContext(tenant_id="acme", vpc_id="vpc-a", service_name="shop-tcp", observer="ips-1", prevent=True,
                       rulesets={h.sig.file: "t@1.0.0" for h in hits})
    docs = {h.sig.sid: validate_alert(common_alert(h, flow, ctx, seq=i)) for i, h in enumerate(hits)}
    web = docs[9100001]
    assert web["event"]["module"] == "ips" and web["event"]["action"] == "alerted" and web["event"]["severity"] == 1
    assert web["rule"] == {"id": "9100001", "name": "TEST admin path", "ruleset": "t@1.0.0",
                           "category": "Web Application Attack"}
    assert web["flow"]["id"] == "1459180393406201"
    assert web["source"] == {"ip": "10.0.0.5", "port": 51514} and web["network"]["transport"] == "tcp"
    assert web["url"] == {"original": "/admin/users", "domain": "shop.example"}
    assert web["http"]["request"]["method"] == "GET" and web["user_agent"]["original"] == "probe/1.0"
    assert web["@timestamp"].startswith("2026-11-27T19:40:01.1") and web["@timestamp"].endswith("Z")
    assert docs[9100002]["event"]["action"] == "dropped"
    assert docs[9100004]["source"]["ip"] == "10.0.0.9"
    assert "SECRET-TOKEN" in docs[9100004]["matched"]["data"]
    # replaying the same flow gives the same event ids (duplicates collapse downstream)
    again = [common_alert(h, flow, ctx, seq=i)["event"]["id"] for i, h in enumerate(hits)]
    assert again == [d["event"]["id"] for d in (common_alert(h, flow, ctx, seq=i) for i, h in enumerate(hits))]
    assert len(set(again)) == len(hits)


def test_the_eve_schema_rejects_what_suricata_would_not_write(built) -> None:
    hits, flow = run_flow(built, [(Direction.TO_SERVER, b"MARKER-ONE")])
    (hit,) = [h for h in hits if h.sig.sid == 9100006]
    rec = validate_eve(eve_alert(hit, flow, prevent=False))
    for field, value in (("timestamp", "2026-11-27T16:20:01Z"), ("flow_id", 0), ("direction", "in"),
                         ("stream", 2), ("payload", "not base64!")):
        bad = dict(rec, **{field: value})
        with pytest.raises(ValueError, match=field):
            validate_eve(bad)
    with pytest.raises(ValueError, match="alert"):
        validate_eve(dict(rec, alert={k: v for k, v in rec["alert"].items() if k != "signature_id"}))
