"""Inline and replay give the same alerts for the same traffic.

Real TCP connections go through the proxy to an echo upstream on loopback; a pcap of the same
exchanges (same addresses and ports, as the client saw them) is generated with the layers' pcap
generator and replayed through the same rules. Both EVE outputs must name the same signatures,
directions and flow 5-tuples.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from services.ips.config import build_for_packs
from services.ips.layers.pcap import read_pcap, write_pcap
from services.ips.layers.pcapgen import tcp_session
from services.ips.model import Direction
from services.ips.output.alerts import AlertContext
from services.ips.output.eve import validate_eve
from services.ips.output.sink import AlertOutput
from services.ips.replay import Replayer
from tests.ips.service.helpers import Upstream, echo, listener_spec, read_all, start_listener
from tests.ips.service.rules import write_pack

C2S, S2C = Direction.TO_SERVER, Direction.TO_CLIENT

# What each client sends, chunk by chunk (the echo upstream sends each chunk back).
SCRIPTS = [
    [b"GET /admin/login HTTP/1.1\r\nHost: shop.example\r\n\r\n"],
    [b"hello ", b"MARKER-", b"ONE and more"],          # split across reads: stream reassembly finds it
    [b"SECRET-TOKEN from the client"],                  # alerts only on the echo (flow:to_client)
    [b"fine", b"then EVIL-DROP", b"MARKER-ONE never seen"],  # dropped: the rest never happens
    [b"TRUSTED-CLIENT", b"MARKER-ONE is passed"],
]


def key(rec: dict) -> tuple:
    f = rec["flow"]
    return rec["alert"]["signature_id"], rec["direction"], (f["src_ip"], f["src_port"], f["dest_ip"], f["dest_port"])


async def run_inline(built, up: Upstream) -> tuple[list[dict], list[list[tuple[Direction, bytes]]], list[tuple]]:
    eve = io.StringIO()
    lst = await start_listener(listener_spec(up.port), built, eve=eve)
    sessions, endpoints = [], []
    try:
        for script in SCRIPTS:
            r, w = await asyncio.open_connection(*lst.address)
            endpoints.append((w.get_extra_info("sockname")[:2], lst.address))
            exchanges: list[tuple[Direction, bytes]] = []
            for chunk in script:
                w.write(chunk)
                await w.drain()
                exchanges.append((C2S, chunk))
                try:
                    back = await asyncio.wait_for(r.readexactly(len(chunk)), 5)
                except asyncio.IncompleteReadError:
                    break  # dropped by the IPS
                exchanges.append((S2C, back))
            else:
                w.write_eof()
                tail = await read_all(r)
                if tail:
                    exchanges.append((S2C, tail))
            w.close()
            sessions.append(exchanges)
    finally:
        await lst.close()
    return [validate_eve(json.loads(line)) for line in eve.getvalue().splitlines()], sessions, endpoints


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("packs")
    write_pack(root)
    return build_for_packs(root, ("t",), None, None)


async def test_inline_and_replay_agree(built, tmp_path: Path) -> None:
    up = await Upstream(echo).start()
    try:
        inline, sessions, endpoints = await run_inline(built, up)
    finally:
        await up.close()

    frames = []
    ts = 1_795_808_401.0
    for (client, server), exchanges in zip(endpoints, sessions):
        frames += tcp_session(tuple(client), tuple(server), exchanges, start_ts=ts,
                              close="rst" if any(b"EVIL-DROP" in d for _, d in exchanges) else "fin")
        ts += 1
    pcap = write_pcap(tmp_path / "same.pcap", frames)
    eve = io.StringIO()
    ctx = AlertContext(tenant_id="acme", observer="replay", prevent=True)
    Replayer(built.engine, AlertOutput(ctx, eve=eve), prevent=True).run(read_pcap(pcap))
    replayed = [validate_eve(json.loads(line)) for line in eve.getvalue().splitlines()]

    assert {key(r) for r in inline} == {key(r) for r in replayed}
    sids = {r["alert"]["signature_id"] for r in inline}
    assert sids == {9100001, 9100002, 9100004, 9100006}
    assert {r["alert"]["action"] for r in inline if r["alert"]["signature_id"] == 9100002} == {"blocked"}
    # MARKER-ONE was seen on exactly one flow (script 2): never after the drop, never after the pass
    marker_flows = {key(r)[2] for r in inline if r["alert"]["signature_id"] == 9100006}
    assert len(marker_flows) == 1
