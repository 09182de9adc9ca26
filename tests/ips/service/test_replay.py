"""``secchain ips replay``: generated captures through layers + engine, EVE out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.ips.layers.pcap import write_pcap
from services.ips.layers.pcapgen import tcp_session
from services.ips.model import Direction
from services.ips.output.eve import validate_eve
from services.ips.replay import main
from tests.ips.service.rules import CLASSIFICATION, RULES

C2S, S2C = Direction.TO_SERVER, Direction.TO_CLIENT
REQUEST = b"GET /admin/panel HTTP/1.1\r\nHost: intranet.example\r\nUser-Agent: curl/8\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\nSECRET-TOKEN=abc"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rules, cls = tmp_path / "t.rules", tmp_path / "classification.config"
    rules.write_text(RULES)
    cls.write_text(CLASSIFICATION)
    return rules, cls


def capture(path: Path) -> Path:
    frames = tcp_session(("10.0.0.5", 40001), ("10.0.0.9", 80), [(C2S, REQUEST), (S2C, RESPONSE)], mss=20)
    frames += tcp_session(("10.0.0.6", 40002), ("10.0.0.9", 7000),
                          [(C2S, b"hello EVIL-DROP"), (S2C, b"ok"), (C2S, b"then MARKER-ONE")],
                          start_ts=1_700_000_001.0)
    return write_pcap(path, frames)


def run(tmp_path: Path, files: tuple[Path, Path], *extra: str) -> list[dict]:
    out = tmp_path / "eve.json"
    out.unlink(missing_ok=True)
    pcap = capture(tmp_path / "c.pcap")
    assert main([str(pcap), "--rules", str(files[0]), "--classification", str(files[1]), "--eve", str(out),
                 "--cache-dir", str(tmp_path / "cache"), *extra]) == 0
    return [validate_eve(json.loads(line)) for line in out.read_text().splitlines()]


def test_replay_writes_eve_alerts_with_packet_numbers(tmp_path: Path, files, capsys) -> None:
    records = run(tmp_path, files)
    got = sorted((r["alert"]["signature_id"], r["direction"], r["src_port"]) for r in records)
    assert got == [(9100001, "to_server", 40001), (9100002, "to_server", 40002),
                   (9100004, "to_client", 80), (9100006, "to_server", 40002)]
    by_sid = {r["alert"]["signature_id"]: r for r in records}
    web = by_sid[9100001]
    assert web["app_proto"] == "http" and web["http"]["url"] == "/admin/panel"
    assert web["pcap_cnt"] >= 4  # after the handshake
    assert web["flow_id"] == by_sid[9100004]["flow_id"] != by_sid[9100002]["flow_id"]
    assert web["flow"]["src_ip"] == "10.0.0.5" and web["flow"]["dest_port"] == 80
    assert web["timestamp"].startswith("2023-11-14T22:13:20.")
    assert by_sid[9100002]["alert"]["action"] == "allowed"  # replay is an IDS unless --mode prevent
    assert "4 alerts" in capsys.readouterr().err


def test_prevent_mode_stops_inspecting_a_dropped_flow(tmp_path: Path, files) -> None:
    records = run(tmp_path, files, "--mode", "prevent")
    sids = sorted(r["alert"]["signature_id"] for r in records)
    assert sids == [9100001, 9100002, 9100004]  # MARKER-ONE came after the drop
    assert {r["alert"]["action"] for r in records if r["alert"]["signature_id"] == 9100002} == {"blocked"}


def test_replay_reports_a_missing_capture(tmp_path: Path, files, capsys) -> None:
    assert main([str(tmp_path / "nope.pcap"), "--rules", str(files[0])]) == 2
    assert "no such file" in capsys.readouterr().err
