"""EVE JSON alert records, shaped as Suricata 7 writes them, so EVE tools read ours unchanged.

One record per :class:`~services.ips.detect.Hit`, e.g. (abridged)::

    {"timestamp": "2026-11-27T19:40:01.123456+0000", "flow_id": 1459180393406201,
     "pcap_cnt": 4, "event_type": "alert", "src_ip": "10.0.0.5", "src_port": 51514,
     "dest_ip": "10.0.0.9", "dest_port": 80, "proto": "TCP", "pkt_src": "wire/pcap",
     "app_proto": "http", "direction": "to_server",
     "alert": {"action": "allowed", "gid": 1, "signature_id": 9000001, "rev": 2,
               "signature": "LOCAL admin path probe", "category": "Web Application Attack",
               "severity": 1, "metadata": {"created_at": ["2026_11_27"]}},
     "http": {"hostname": "shop.example", "url": "/admin", ...},
     "flow": {"pkts_toserver": 3, "pkts_toclient": 1, "bytes_toserver": 312, "bytes_toclient": 60,
              "start": "2026-11-27T19:40:01.120002+0000", "src_ip": "10.0.0.5", "dest_ip": "10.0.0.9",
              "src_port": 51514, "dest_port": 80},
     "payload": "R0VUIC9hZG1pbi...", "payload_printable": "GET /admin...", "stream": 1}

Why each detail is the way it is (Suricata 7 ``output-json-alert.c`` / ``output-json.c``):

* ``timestamp`` is local time with microseconds and a ``%z`` offset; we always write UTC, so the
  offset is ``+0000`` (Suricata started with TZ=UTC prints exactly this).
* ``src_*``/``dest_*`` follow the packet that triggered the alert (a to_client hit has the server
  as ``src_ip``); the ``flow`` object keeps the client→server orientation of the flow, which is why
  Suricata 7 added ``flow.src_ip`` etc. to alerts.
* ``alert.action`` is ``blocked`` only when the packet really was dropped or rejected (an IPS in
  prevent mode); a drop rule in an IDS logs ``allowed``.
* ``category`` is the classification description, ``""`` when the rule has no classtype, and
  ``severity`` is the rule's priority (classtype's or ``priority:``; Suricata's default is 3).
* ``payload_printable`` keeps printable ASCII plus CR and LF and turns every other byte into
  ``.`` (Suricata's ``PrintStringsToBuffer``).
* ``pkt_src``: ``wire/pcap`` for packets and stream data seen on the wire (or the proxy socket);
  ``stream (flow timeout)`` for what is only inspected when a flow ends.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from services.ips.model import Direction, FlowTuple

SCHEMA_PATH = Path(__file__).with_name("eve.schema.json")

PKT_SRC_WIRE = "wire/pcap"
PKT_SRC_FLOW_END = "stream (flow timeout)"

# bytes.translate table for payload_printable: isprint() or CR/LF keep their value, the rest is '.'.
_PRINTABLE = bytes(b if 0x20 <= b < 0x7F or b in (0x0A, 0x0D) else 0x2E for b in range(256))


class FlowView(Protocol):
    """What an EVE record needs to know about the flow; the proxy's connection and the replay's
    flow (an adapter over the layers' ``Flow``) both provide it."""

    flow_id: int
    tuple: FlowTuple
    start_ts: float
    pkts_toserver: int
    pkts_toclient: int
    bytes_toserver: int
    bytes_toclient: int


def eve_timestamp(ts: float) -> str:
    """``1795808401.123456`` -> ``"2026-11-27T19:40:01.123456+0000"``."""
    sec = int(ts)
    usec = int(round((ts - sec) * 1_000_000))
    if usec >= 1_000_000:
        sec, usec = sec + 1, usec - 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{usec:06d}+0000"


def printable(data: bytes) -> str:
    return data.translate(_PRINTABLE).decode("ascii")


def alert_action(rule_action: str, *, prevent: bool) -> str:
    """EVE ``alert.action``: ``blocked`` only when the IPS actually stopped the traffic."""
    return "blocked" if prevent and rule_action in ("drop", "reject") else "allowed"


def _endpoints(tup: FlowTuple, direction: Direction) -> tuple[str, int, str, int]:
    if direction is Direction.TO_SERVER:
        return tup.src_ip, tup.src_port, tup.dst_ip, tup.dst_port
    return tup.dst_ip, tup.dst_port, tup.src_ip, tup.src_port


def eve_alert(hit: Any, flow: FlowView, *, prevent: bool, pcap_cnt: int | None = None,
              pkt_src: str = PKT_SRC_WIRE, in_iface: str | None = None) -> dict[str, Any]:
    """The EVE alert record of ``hit`` (a detect ``Hit``) seen on ``flow``.

    ``prevent`` says whether the IPS enforces drop/reject (inline prevent mode); ``pcap_cnt`` is the
    1-based packet number in a replayed capture (omitted live, as Suricata does).
    """
    sig = hit.sig
    tup = flow.tuple
    direction = Direction(hit.direction)
    src_ip, src_port, dst_ip, dst_port = _endpoints(tup, direction)
    rec: dict[str, Any] = {"timestamp": eve_timestamp(hit.ts), "flow_id": flow.flow_id}
    if in_iface is not None:
        rec["in_iface"] = in_iface
    if pcap_cnt is not None:
        rec["pcap_cnt"] = pcap_cnt
    rec["event_type"] = "alert"
    rec["src_ip"] = src_ip
    if tup.proto in ("tcp", "udp"):
        rec["src_port"] = src_port
    rec["dest_ip"] = dst_ip
    if tup.proto in ("tcp", "udp"):
        rec["dest_port"] = dst_port
    rec["proto"] = "ICMP" if tup.proto == "icmp" else tup.proto.upper()
    rec["pkt_src"] = pkt_src
    app_proto = getattr(hit.app_proto, "value", hit.app_proto)
    if app_proto and app_proto != "unknown":
        rec["app_proto"] = app_proto
    rec["direction"] = "to_server" if direction is Direction.TO_SERVER else "to_client"
    tx_id = getattr(hit, "tx_id", None)
    if tx_id is not None:
        rec["tx_id"] = tx_id
    alert: dict[str, Any] = {
        "action": alert_action(hit.action, prevent=prevent),
        "gid": sig.gid,
        "signature_id": sig.sid,
        "rev": sig.rev,
        "signature": sig.msg or "",
        "category": sig.category or "",
        "severity": sig.priority if sig.priority is not None else 3,
    }
    metadata = getattr(sig, "metadata", None)
    if metadata:
        alert["metadata"] = {k: list(v) for k, v in metadata.items()}
    rec["alert"] = alert
    app = hit.app
    if isinstance(app, Mapping):
        for key in ("http", "dns", "tls"):
            if key in app:
                rec[key] = app[key]
    rec["flow"] = {
        "pkts_toserver": flow.pkts_toserver,
        "pkts_toclient": flow.pkts_toclient,
        "bytes_toserver": flow.bytes_toserver,
        "bytes_toclient": flow.bytes_toclient,
        "start": eve_timestamp(flow.start_ts),
        "src_ip": tup.src_ip,
        "dest_ip": tup.dst_ip,
    }
    if tup.proto in ("tcp", "udp"):
        rec["flow"]["src_port"] = tup.src_port
        rec["flow"]["dest_port"] = tup.dst_port
    payload = hit.payload or b""
    rec["payload"] = base64.b64encode(payload).decode("ascii")
    rec["payload_printable"] = printable(payload)
    rec["stream"] = 1 if hit.stream else 0
    packet = getattr(hit, "packet", None)
    raw = getattr(packet, "raw", None) if packet is not None else None
    if raw:
        rec["packet"] = base64.b64encode(raw).decode("ascii")
        rec["packet_info"] = {"linktype": getattr(packet, "linktype", 1)}
    return rec


def dumps(record: Mapping[str, Any]) -> str:
    """One EVE line (no trailing newline): compact, non-ASCII kept as UTF-8 like Suricata's JSON."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def validate_eve(record: Any) -> Any:
    """Raise ``ValueError`` naming the field if ``record`` is not a valid EVE alert record."""
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator().iter_errors(record))
    if error is not None:
        path = ".".join(str(p) for p in error.absolute_path)
        raise ValueError(f"{path or '(record)'}: {error.message}")
    return record
