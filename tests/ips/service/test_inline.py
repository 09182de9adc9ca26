"""The inline proxy with a real engine: verdicts applied to real loopback connections."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from prometheus_client import CollectorRegistry

from services.ips.config import build_for_packs
from services.ips.output.eve import validate_eve
from shared.events import validate_alert
from tests.ips.service.helpers import Upstream, echo, listener_spec, read_all, start_listener
from tests.ips.service.rules import write_pack


class ListSink:
    def __init__(self) -> None:
        self.alerts: list[dict] = []

    def send(self, alert: dict) -> None:
        self.alerts.append(alert)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("packs")
    write_pack(root)
    return build_for_packs(root, ("t",), None, None)


def eve_lines(buf: io.StringIO) -> list[dict]:
    return [validate_eve(json.loads(line)) for line in buf.getvalue().splitlines()]


async def exchange(r: asyncio.StreamReader, w: asyncio.StreamWriter, data: bytes) -> bytes:
    w.write(data)
    await w.drain()
    return await asyncio.wait_for(r.readexactly(len(data)), 5)


async def test_alert_logs_and_forwards_both_directions(built) -> None:
    up = await Upstream(echo).start()
    sink, eve = ListSink(), io.StringIO()
    lst = await start_listener(listener_spec(up.port), built, sink=sink, eve=eve)
    try:
        r, w = await asyncio.open_connection(*lst.address)
        client_port = w.get_extra_info("sockname")[1]
        assert await exchange(r, w, b"hello MARKER-ONE\n") == b"hello MARKER-ONE\n"
        assert await exchange(r, w, b"SECRET-TOKEN please") == b"SECRET-TOKEN please"
        w.write_eof()
        assert await read_all(r) == b"bye\n"
        w.close()
    finally:
        await lst.close()
        await up.close()
    records = eve_lines(eve)
    seen = sorted((rec["alert"]["signature_id"], rec["direction"]) for rec in records)
    # the echo brings each marker back: MARKER-ONE alerts both ways, the to_client-only rule once
    assert seen == [(9100004, "to_client"), (9100006, "to_client"), (9100006, "to_server")]
    assert len({rec["flow_id"] for rec in records}) == 1
    for rec in records:
        assert rec["in_iface"] == "t1" and rec["alert"]["action"] == "allowed"
        assert rec["flow"]["src_port"] == client_port and rec["flow"]["dest_port"] == lst.address[1]
        if rec["direction"] == "to_server":
            assert rec["src_port"] == client_port
        else:
            assert rec["dest_port"] == client_port
    assert len(sink.alerts) == 3
    for doc in sink.alerts:
        validate_alert(doc)
        assert doc["tenant"]["id"] == "acme" and doc["vpc"]["id"] == "vpc-a" and doc["service"]["name"] == "t1"
        assert doc["flow"]["id"] == str(records[0]["flow_id"]) and doc["event"]["action"] == "alerted"
        assert doc["rule"]["ruleset"] == "t@1.0.0"


async def test_drop_stops_the_matching_bytes_and_closes_both_sides(built) -> None:
    up = await Upstream(echo).start()
    sink, eve, reg = ListSink(), io.StringIO(), CollectorRegistry()
    lst = await start_listener(listener_spec(up.port), built, sink=sink, eve=eve, registry=reg)
    try:
        r, w = await asyncio.open_connection(*lst.address)
        assert await exchange(r, w, b"hello") == b"hello"
        w.write(b"now EVIL-DROP this")
        await w.drain()
        assert await read_all(r) == b""
        w.close()
        await asyncio.sleep(0.05)
    finally:
        await lst.close()
        await up.close()
    assert b"".join(up.received) == b"hello"  # the matching chunk never reached the upstream
    (rec,) = eve_lines(eve)
    assert rec["alert"]["signature_id"] == 9100002 and rec["alert"]["action"] == "blocked"
    (doc,) = sink.alerts
    assert doc["event"]["action"] == "dropped"
    assert reg.get_sample_value("secchain_ips_connections_total", {"listener": "t1", "outcome": "dropped"}) == 1


async def test_reject_resets_the_sender(built) -> None:
    up = await Upstream(echo).start()
    eve = io.StringIO()
    lst = await start_listener(listener_spec(up.port), built, eve=eve)
    try:
        r, w = await asyncio.open_connection(*lst.address)
        assert await exchange(r, w, b"hello") == b"hello"
        w.write(b"EVIL-REJECT")
        await w.drain()
        with pytest.raises(ConnectionResetError):
            while await asyncio.wait_for(r.read(100), 5):
                pass
        w.close()
    finally:
        await lst.close()
        await up.close()
    assert b"".join(up.received) == b"hello"
    (rec,) = eve_lines(eve)
    assert rec["alert"]["signature_id"] == 9100003 and rec["alert"]["action"] == "blocked"


async def test_detect_mode_only_alerts_on_drop_rules(built) -> None:
    up = await Upstream(echo).start()
    sink, eve = ListSink(), io.StringIO()
    lst = await start_listener(listener_spec(up.port, mode="detect"), built, sink=sink, eve=eve)
    try:
        r, w = await asyncio.open_connection(*lst.address)
        assert await exchange(r, w, b"now EVIL-DROP this") == b"now EVIL-DROP this"
        w.write_eof()
        assert await read_all(r) == b"bye\n"
        w.close()
    finally:
        await lst.close()
        await up.close()
    assert b"".join(up.received) == b"now EVIL-DROP this"
    drops = [rec for rec in eve_lines(eve) if rec["alert"]["signature_id"] == 9100002]
    assert drops and all(rec["alert"]["action"] == "allowed" for rec in drops)
    assert {d["event"]["action"] for d in sink.alerts if d["rule"]["id"] == "9100002"} == {"alerted"}


async def test_pass_stops_inspecting_the_flow(built) -> None:
    up = await Upstream(echo).start()
    eve = io.StringIO()
    lst = await start_listener(listener_spec(up.port), built, eve=eve)
    try:
        r, w = await asyncio.open_connection(*lst.address)
        assert await exchange(r, w, b"TRUSTED-CLIENT hello") == b"TRUSTED-CLIENT hello"
        assert await exchange(r, w, b"MARKER-ONE EVIL-DROP") == b"MARKER-ONE EVIL-DROP"
        w.close()
        # a second connection without the pass match is inspected as usual
        r2, w2 = await asyncio.open_connection(*lst.address)
        assert await exchange(r2, w2, b"MARKER-ONE") == b"MARKER-ONE"
        w2.close()
    finally:
        await lst.close()
        await up.close()
    records = eve_lines(eve)
    assert {rec["alert"]["signature_id"] for rec in records} == {9100006}
    assert len({rec["flow_id"] for rec in records}) == 1
