"""IPS pack cases: traffic written as data, generated into captures and run the ways the IPS runs.

A case in a pack's ``cases.yaml`` (format in the header of rules/ips/core/cases.yaml)::

    - name: web-traversal-etc-passwd
      tcp:
        - to_server: {http: "GET /download.php?file=../../../../etc/passwd"}
        - to_client: {http_status: "404 Not Found", body: "not found"}
      expect: [9200200, 9200201]

Nothing captured is stored: each case becomes frames with ``pcapgen`` (TCP handshake, segments
of ``mss`` bytes, optional reorder/retransmit/overlap games), and :func:`run_cases` checks it

1. by replay: all cases in one pcap file, read back by the pcap reader and driven through the
   flow/reassembly layers and the engine by :class:`services.ips.replay.Replayer`, once as an IDS
   (``suricata -r``: drop rules alert, traffic continues) and once modelling inline verdicts;
   every EVE record is validated against the schema and split back per case by its addresses;
2. inline: the engine fed exactly as the proxy feeds it (``on_packet`` as a pseudo-packet, then
   ``on_stream``, per chunk of ``mss`` bytes), where the verdict must be the case's ``verdict``.

Each path must raise exactly the expected sids, no more and no fewer, as Suricata-verify checks
a rule's alerts against a pcap. Addresses are generated per case (home in 10/8, external in
198.18/15), so per-source state such as thresholds never leaks between cases; the rule
variables the cases assume are :data:`CASE_VARS`.
"""

from __future__ import annotations

import io
import json
import socket
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from services.ips.layers.decode import TH_ACK, TH_RST, TH_SYN
from services.ips.layers.pcapgen import (
    CLIENT_MAC,
    SERVER_MAC,
    Frames,
    frame,
    ip_packet,
    tcp_segment,
    tcp_session,
    udp_exchange,
    write_pcap,
)
from services.ips.model import Direction, FlowTuple

C2S, S2C = Direction.TO_SERVER, Direction.TO_CLIENT
# What a listener protecting 10/8 gives a pack (README: ips_listeners.vars): the generated home
# addresses are in 10/8, and the cases use 80 and 8080 as web ports.
CASE_VARS = {"HOME_NET": "[10.0.0.0/8]", "HTTP_PORTS": "[80,8080]"}
START_TS = 1_795_808_400.0
EVASIONS = frozenset({"reorder", "retransmit", "overlap"})


class CaseFileError(ValueError):
    """A case is malformed; the message is ``file:line: case NAME: what``."""


# -- payload generators -------------------------------------------------------------------------------

def _qname(name: str) -> bytes:
    return b"".join(bytes([len(label)]) + label.encode("ascii") for label in name.split(".")) + b"\0"


_QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "MX": 15, "TXT": 16, "AAAA": 28}


def dns_query(name: str, qtype: str = "A", ident: int = 0x5EC0) -> bytes:
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + _qname(name) + struct.pack("!HH", _QTYPES[qtype], 1)


def dns_answer(name: str, address: str, ident: int = 0x5EC0) -> bytes:
    """A response with the question and one A record pointing back at it (compression)."""
    msg = struct.pack("!HHHHHH", ident, 0x8180, 1, 1, 0, 0) + _qname(name) + struct.pack("!HH", 1, 1)
    return msg + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton(address)


def _vec(data: bytes, n: int) -> bytes:
    return len(data).to_bytes(n, "big") + data


def _ext(etype: int, data: bytes) -> bytes:
    return struct.pack("!H", etype) + _vec(data, 2)


def tls_client_hello(sni: str) -> bytes:
    """A TLS 1.3-capable ClientHello record, as a browser sends it (SNI, groups, ALPN, versions)."""
    exts = (
        _ext(0, _vec(b"\x00" + _vec(sni.encode("ascii"), 2), 2))
        + _ext(23, b"")
        + _ext(65281, b"\x00")
        + _ext(10, _vec(struct.pack("!HHH", 29, 23, 24), 2))
        + _ext(11, _vec(b"\x00", 1))
        + _ext(16, _vec(_vec(b"h2", 1) + _vec(b"http/1.1", 1), 2))
        + _ext(43, _vec(struct.pack("!HH", 0x0304, 0x0303), 1))
    )
    ciphers = struct.pack("!5H", 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F)
    body = struct.pack("!H", 0x0303) + bytes(range(32)) + _vec(bytes(32), 1) + _vec(ciphers, 2) + _vec(b"\x00", 1) + _vec(exts, 2)
    hs = b"\x01" + _vec(body, 3)
    return b"\x16\x03\x01" + _vec(hs, 2)


def tls_server_hello() -> bytes:
    exts = _ext(43, struct.pack("!H", 0x0304)) + _ext(51, struct.pack("!H", 29) + _vec(bytes(32), 2))
    body = struct.pack("!H", 0x0303) + bytes(32) + _vec(bytes(32), 1) + struct.pack("!H", 0x1301) + b"\x00" + _vec(exts, 2)
    return b"\x16\x03\x03" + _vec(b"\x02" + _vec(body, 3), 2)


BROWSER = {
    "Host": "portal.example.gov",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-IE,en;q=0.9",
}


def payload(item: Any, where: str) -> bytes:
    """One exchange's bytes: a YAML string (escapes allowed; \\xNN is byte NN) or a generator."""
    if isinstance(item, str):
        return item.encode("latin-1")
    if not isinstance(item, dict):
        raise CaseFileError(f"{where}: expected a string or a mapping, got {item!r}")
    if "http" in item:
        headers = {**BROWSER, **(item.get("headers") or {})}
        body = item.get("body", "").encode("latin-1")
        if body:
            headers["Content-Length"] = str(len(body))
        head = f"{item['http']} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items() if v is not None)
        return (head + "\r\n").encode("latin-1") + body
    if "http_status" in item:
        body = item.get("body", "").encode("latin-1")
        headers = {"Server": "nginx", "Content-Type": "text/html; charset=utf-8", **(item.get("headers") or {}),
                   "Content-Length": str(len(body))}
        head = f"HTTP/1.1 {item['http_status']}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return (head + "\r\n").encode("latin-1") + body
    if "hex" in item:
        return bytes.fromhex(item["hex"])
    if "dns_query" in item:
        msg = dns_query(item["dns_query"], item.get("qtype", "A"))
        return _vec(msg, 2) if item.get("over_tcp") else msg
    if "dns_answer" in item:
        return dns_answer(item["dns_answer"], item.get("address", "192.0.2.80"))
    if "tls_client_hello" in item:
        return tls_client_hello(item["tls_client_hello"])
    if "tls_server_hello" in item:
        return tls_server_hello()
    raise CaseFileError(f"{where}: unknown generator in {sorted(item)}; expected http, http_status, hex, "
                        "dns_query, dns_answer, tls_client_hello or tls_server_hello")


# -- cases --------------------------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    index: int
    transport: str                    # tcp, udp or syn_scan
    expect: frozenset[int]
    expect_inline: frozenset[int]     # what a proxy can see (no SYNs, no UDP)
    client: tuple[str, int]
    server: tuple[str, int]
    exchanges: list[tuple[Direction, bytes]] = field(default_factory=list)
    mss: int = 1460
    ports: list[int] = field(default_factory=list)
    verdict: str | None = None        # drop / reject: the verdict the detector must reach
    evasion: tuple[str, ...] = ()     # pcapgen segment games: reorder, retransmit, overlap
    proxy: bool = False
    where: str = ""

    @property
    def addresses(self) -> frozenset[str]:
        return frozenset((self.client[0], self.server[0]))


def _address(side: Any, role: int, index: int, where: str) -> str:
    # Two addresses per case (role 0 client, 1 server), unique across the pack, so the alerts of
    # one capture split back per case and per-source state (thresholds) never leaks between cases.
    if side == "home":
        return f"10.{20 + role}.{index // 200}.{index % 200 + 10}"
    if side == "external":
        return f"198.{18 + role}.{index // 200}.{index % 200 + 10}"
    raise CaseFileError(f"{where}: expected home or external, got {side!r}")


def _sids(value: Any, where: str, key: str) -> frozenset[int]:
    if not isinstance(value, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        raise CaseFileError(f"{where}: {key}: expected a list of sids, e.g. [9200100]")
    return frozenset(value)


def load_cases(path: Path, *, first_index: int = 0) -> list[Case]:
    """Every case of ``path``; the first malformed one raises CaseFileError with its line.

    ``first_index``: where this file's cases start when a pack has several case files (the
    index chooses the case's addresses, which must stay unique across the pack).
    """
    try:
        text = path.read_text(encoding="utf-8")
        doc, node = yaml.safe_load(text), yaml.compose(text)
    except (OSError, yaml.YAMLError) as exc:
        raise CaseFileError(f"{path}: cannot read the cases: {exc}") from exc
    if not isinstance(doc, list) or not isinstance(node, yaml.SequenceNode):
        raise CaseFileError(f"{path}:1: expected a list of cases")
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for index, (raw, item) in enumerate(zip(doc, node.value), first_index):
        where = f"{path}:{item.start_mark.line + 1}"
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise CaseFileError(f"{where}: a case needs a name")
        name = raw["name"]
        where = f"{where}: case {name}"
        if name in seen:
            raise CaseFileError(f"{where}: duplicate name (first at {seen[name]})")
        seen[name] = where
        if "expect" not in raw:
            raise CaseFileError(f"{where}: expect: required (the sids it must raise, [] for none)")
        flow = raw.get("flow") or {}
        if not isinstance(flow, dict) or set(flow) - {"client", "server", "port"}:
            raise CaseFileError(f"{where}: flow: expected a mapping of client, server, port")
        expect = _sids(raw["expect"], where, "expect")
        if "expect_inline" in raw and not raw.get("why"):
            raise CaseFileError(f"{where}: expect_inline needs a why")
        evasion = raw.get("evasion", [])
        if not isinstance(evasion, list) or not set(evasion) <= EVASIONS:
            raise CaseFileError(f"{where}: evasion: expected a list of {', '.join(sorted(EVASIONS))}")
        verdict = raw.get("verdict")
        if verdict not in (None, "drop", "reject"):
            raise CaseFileError(f"{where}: verdict: expected drop or reject, got {verdict!r}")
        case = Case(
            name=name, index=index, transport="", expect=expect,
            expect_inline=_sids(raw["expect_inline"], where, "expect_inline") if "expect_inline" in raw else expect,
            client=(_address(flow.get("client", "external"), 0, index, where), 40000 + index),
            server=(_address(flow.get("server", "home"), 1, index, where), int(flow.get("port", 80))),
            mss=int(raw.get("mss", 1460)), verdict=verdict, proxy=bool(raw.get("proxy", False)),
            evasion=tuple(evasion), where=where,
        )
        kinds = [k for k in ("tcp", "udp", "syn_scan") if k in raw]
        if len(kinds) != 1:
            raise CaseFileError(f"{where}: expected exactly one of tcp, udp, syn_scan")
        case.transport = kinds[0]
        if case.transport == "syn_scan":
            ports = (raw["syn_scan"] or {}).get("ports") if isinstance(raw["syn_scan"], dict) else None
            if not (isinstance(ports, list) and len(ports) == 2):
                raise CaseFileError(f"{where}: syn_scan: expected {{ports: [first, last]}}")
            case.ports = list(range(int(ports[0]), int(ports[1]) + 1))
        else:
            if not isinstance(raw[case.transport], list):
                raise CaseFileError(f"{where}: {case.transport}: expected a list of to_server/to_client items")
            for i, step in enumerate(raw[case.transport]):
                if not isinstance(step, dict) or len(step) != 1 or next(iter(step)) not in ("to_server", "to_client"):
                    raise CaseFileError(f"{where}: item {i}: expected one of to_server: or to_client:")
                (key, value), = step.items()
                case.exchanges.append((C2S if key == "to_server" else S2C, payload(value, f"{where}: item {i}")))
        cases.append(case)
    return cases


def case_frames(case: Case) -> Frames:
    ts = START_TS + case.index
    if case.transport == "tcp":
        # a proxy reads what the kernel reassembled, so evasions only shape the capture
        return tcp_session(case.client, case.server, case.exchanges, mss=case.mss, start_ts=ts,
                           **{name: True for name in case.evasion})
    if case.transport == "udp":
        return udp_exchange(case.client, case.server, case.exchanges, start_ts=ts)
    # a sweep: a SYN to each port, answered by RST|ACK (closed) as most ports are
    (cip, cport), sip = case.client, case.server[0]
    frames: Frames = []
    for n, port in enumerate(case.ports):
        t = ts + n * 0.002
        syn = tcp_segment(cip, sip, cport, port, 7_000_000 + n, 0, TH_SYN)
        rst = tcp_segment(sip, cip, port, cport, 0, 7_000_001 + n, TH_RST | TH_ACK)
        frames.append((t, frame(ip_packet(cip, sip, 6, syn), src_mac=CLIENT_MAC, dst_mac=SERVER_MAC)))
        frames.append((t + 0.001, frame(ip_packet(sip, cip, 6, rst), src_mac=SERVER_MAC, dst_mac=CLIENT_MAC)))
    return frames


def write_cases_pcap(path: Path, cases: list[Case]) -> Path:
    frames: Frames = []
    for case in cases:
        frames += case_frames(case)
    return write_pcap(path, frames)


def chunks(case: Case) -> Iterator[tuple[Direction, bytes]]:
    """What the proxy reads: each exchange in chunks of ``mss`` bytes."""
    for direction, data in case.exchanges:
        for i in range(0, len(data), case.mss):
            yield direction, data[i : i + case.mss]


# -- the two engine paths -----------------------------------------------------------------------------

def split_eve(lines: list[str], cases: list[Case]) -> dict[str, dict[int, str]]:
    """EVE alert lines -> {case name: {sid: alert.action}}, each record schema-checked."""
    from services.ips.output.eve import validate_eve

    by_addresses = {case.addresses: case.name for case in cases}
    out: dict[str, dict[int, str]] = {case.name: {} for case in cases}
    for line in lines:
        rec = validate_eve(json.loads(line))
        name = by_addresses.get(frozenset((rec["src_ip"], rec["dest_ip"])))
        if name is None:
            raise ValueError(f"an alert between {rec['src_ip']} and {rec['dest_ip']} belongs to no case")
        out[name][rec["alert"]["signature_id"]] = rec["alert"]["action"]
    return out


def replay_cases(built: Any, cases: list[Case], pcap: Path, *, prevent: bool) -> dict[str, dict[int, str]]:
    """The capture through the replay path (pcap reader, layers, engine, EVE writer)."""
    from services.ips.layers.pcap import read_pcap
    from services.ips.output.alerts import AlertContext
    from services.ips.output.sink import AlertOutput
    from services.ips.replay import Replayer

    eve = io.StringIO()
    ctx = AlertContext(tenant_id="pack-test", observer="secchain-rules-test", prevent=prevent,
                       service_name="replay", rulesets=built.rulesets, default_ruleset=built.label)
    Replayer(built.engine, AlertOutput(ctx, eve=eve), prevent=prevent).run(read_pcap(pcap))
    return split_eve(eve.getvalue().splitlines(), cases)


def inline_case(built: Any, case: Case) -> tuple[set[int], str | None]:
    """(sids, verdict) with the detector fed the way ``proxy._Conn._inspect`` feeds it."""
    tup = FlowTuple(case.transport, case.client[0], case.client[1], case.server[0], case.server[1])
    ts = START_TS + 100_000 + case.index  # well after the replay's windows
    det = built.engine.new_flow(tup, flow_id=case.index + 1, ts=ts)
    hits = list(det.on_established(ts))
    for direction, data in chunks(case) if case.transport == "tcp" else case.exchanges:
        ts += 0.001
        hits += det.on_packet(direction, data, ts, tcp_flags=0x18 if case.transport == "tcp" else None)
        if case.transport == "tcp":
            hits += det.on_stream(direction, data, ts)
    hits += det.on_close(ts)
    verdict = det.verdict.value if det.verdict is not None else None
    return {h.sig.sid for h in hits}, verdict


def _diff(path: str, got: set[int], want: frozenset[int]) -> list[str]:
    out = []
    if want - got:
        out.append(f"{path}: expected sids did not fire: {sorted(want - got)}")
    if got - want:
        out.append(f"{path}: unexpected sids fired: {sorted(got - want)}")
    return out


@dataclass(slots=True)
class CaseOutcome:
    case: Case
    problems: list[str]

    @property
    def passed(self) -> bool:
        return not self.problems


def check_case(case: Case, detect: dict[int, str], prevent: dict[int, str], built: Any) -> CaseOutcome:
    problems = _diff("replay", set(detect), case.expect)
    # As an IDS (suricata -r) a drop rule's alert says "allowed"; modelled inline the same alert
    # says "blocked" and no other rule of the case is lost.
    if "blocked" in detect.values():
        problems.append("replay: an IDS-mode alert says blocked")
    problems += _diff("replay inline-modelled", set(prevent), case.expect)
    blocked = {sid for sid, action in prevent.items() if action == "blocked"}
    want_blocked = set(case.expect) if case.verdict else set()
    if blocked != want_blocked:
        problems.append(f"replay inline-modelled: blocked {sorted(blocked)}, expected {sorted(want_blocked)}")
    if case.transport != "syn_scan":
        sids, verdict = inline_case(built, case)
        problems += _diff("inline", sids, case.expect_inline)
        if verdict != case.verdict:
            problems.append(f"inline: verdict {verdict}, expected {case.verdict}")
    return CaseOutcome(case, problems)


def run_cases(build: Callable[[], Any], cases: list[Case]) -> list[CaseOutcome]:
    """``build``: a fresh BuiltEngine per path, as each run of the IPS starts one (thresholds and
    other per-source state live in the engine and must not carry from one path to the next)."""
    with tempfile.TemporaryDirectory(prefix="ips-pack-test-") as tmp:
        pcap = write_cases_pcap(Path(tmp) / "cases.pcap", cases)
        detect = replay_cases(build(), cases, pcap, prevent=False)
        prevent = replay_cases(build(), cases, pcap, prevent=True)
    inline = build()
    return [check_case(case, detect[case.name], prevent[case.name], inline) for case in cases]
