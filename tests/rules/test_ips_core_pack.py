"""Every case of rules/ips/core/cases.yaml through the IPS the ways it really runs, per case.

A case is traffic written as data (TCP exchanges, UDP datagrams, a SYN sweep) and the exact set of
signatures it must raise; see the header of cases.yaml. The pcaps are generated here with
``pcapgen`` (nothing captured is stored) and each case is checked three ways:

1. replay: all cases in one generated pcap through ``secchain ips replay`` (its ``main``: pack
   loading by name, the flow/reassembly layers, the engine, EVE output); the EVE records are
   validated against the schema and split back per case by the case's own addresses;
2. inline: the pack's engine driven exactly as the inline proxy drives it, chunk by chunk
   (``on_packet`` as a pseudo-packet then ``on_stream``, per chunk of ``mss`` bytes);
3. proxy (cases marked ``proxy: true``): real loopback connections through the real ``Listener``
   in prevent mode, where drop and reject must also stop the bytes.

Each path must raise exactly the expected sids, no more, no fewer.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from services.ips import replay
from services.ips.config import BuiltEngine, build_for_packs, load_pack
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
from services.ips.output.eve import validate_eve
from services.ips.proxy import IpsMetrics, Listener
from shared.config.tenancy import IpsListener

PACKS = Path(__file__).resolve().parents[2] / "rules" / "ips"
PACK = PACKS / "core"
C2S, S2C = Direction.TO_SERVER, Direction.TO_CLIENT
# What the tenancy file of a listener protecting 10/8 gives the pack (README: ips_listeners.vars).
VARS = {"HOME_NET": "[10.0.0.0/8]", "HTTP_PORTS": "[80,8080]"}
SID_RANGE = range(9200000, 9300000)
START_TS = 1_795_808_400.0


# -- cases ----------------------------------------------------------------------------------------


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


def _payload(item: Any, where: str) -> bytes:
    """One exchange's bytes: a YAML string (escapes allowed; \\xNN is byte NN) or a generator."""
    if isinstance(item, str):
        return item.encode("latin-1")
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected a string or a mapping, got {item!r}")
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
    raise ValueError(f"{where}: unknown generator in {sorted(item)}")


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

    @property
    def addresses(self) -> frozenset[str]:
        return frozenset((self.client[0], self.server[0]))


def _address(side: str, role: int, index: int, where: str) -> str:
    # Two addresses per case (role 0 client, 1 server), unique across the pack, so the alerts of
    # one capture split back per case and per-source state (thresholds) never leaks between cases.
    if side == "home":
        return f"10.{20 + role}.{index // 200}.{index % 200 + 10}"
    if side == "external":
        return f"198.{18 + role}.{index // 200}.{index % 200 + 10}"
    raise ValueError(f"{where}: expected home or external, got {side!r}")


def load_cases() -> list[Case]:
    path = PACK / "cases.yaml"
    doc = yaml.safe_load(path.read_text())
    cases: list[Case] = []
    seen: set[str] = set()
    for index, raw in enumerate(doc):
        name = raw["name"]
        where = f"{path.name}: case {name}"
        assert name not in seen, f"{where}: duplicate name"
        seen.add(name)
        flow = raw.get("flow", {})
        client_ip = _address(flow.get("client", "external"), 0, index, where)
        server_ip = _address(flow.get("server", "home"), 1, index, where)
        port = int(flow.get("port", 80))
        expect = frozenset(raw["expect"])
        case = Case(
            name=name, index=index, transport="", expect=expect,
            expect_inline=frozenset(raw.get("expect_inline", raw["expect"])),
            client=(client_ip, 40000 + index), server=(server_ip, port), mss=int(raw.get("mss", 1460)),
            verdict=raw.get("verdict"), proxy=bool(raw.get("proxy", False)),
            evasion=tuple(raw.get("evasion", ())),
        )
        assert set(case.evasion) <= {"reorder", "retransmit", "overlap"}, f"{where}: unknown evasion"
        if "expect_inline" in raw:
            assert raw.get("why"), f"{where}: expect_inline needs a why"
        kinds = [k for k in ("tcp", "udp", "syn_scan") if k in raw]
        assert len(kinds) == 1, f"{where}: expected exactly one of tcp, udp, syn_scan"
        case.transport = kinds[0]
        if case.transport == "syn_scan":
            first, last = raw["syn_scan"]["ports"]
            case.ports = list(range(int(first), int(last) + 1))
        else:
            for i, item in enumerate(raw[case.transport]):
                (key, value), = item.items()
                direction = {"to_server": C2S, "to_client": S2C}[key]
                case.exchanges.append((direction, _payload(value, f"{where}: item {i}")))
        cases.append(case)
    return cases


CASES = load_cases()


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


def chunks(case: Case) -> Iterator[tuple[Direction, bytes]]:
    for direction, data in case.exchanges:
        for i in range(0, len(data), case.mss):
            yield direction, data[i : i + case.mss]


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hs-cache")


@pytest.fixture(scope="module")
def built(cache_dir: Path) -> BuiltEngine:
    return build_for_packs(PACKS, ("core",), VARS, cache_dir)


def _replay(folder: Path, cache_dir: Path, mode: str) -> dict[str, dict[int, str]]:
    """One capture of every case through ``secchain ips replay``: {case: {sid: EVE action}}."""
    frames: Frames = []
    for case in CASES:
        frames += case_frames(case)
    pcap = write_pcap(folder / "core-cases.pcap", frames)
    eve = folder / "eve.json"
    argv = [str(pcap), "--rulesets", "core", "--rules-root", str(PACKS), "--eve", str(eve),
            "--cache-dir", str(cache_dir), "--mode", mode]
    for name, value in VARS.items():
        argv += ["--var", f"{name}={value}"]
    assert replay.main(argv) == 0
    by_addresses = {case.addresses: case.name for case in CASES}
    out: dict[str, dict[int, str]] = {case.name: {} for case in CASES}
    for line in eve.read_text().splitlines():
        rec = validate_eve(json.loads(line))
        name = by_addresses[frozenset((rec["src_ip"], rec["dest_ip"]))]
        out[name][rec["alert"]["signature_id"]] = rec["alert"]["action"]
    return out


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> dict[str, dict[int, str]]:
    return _replay(tmp_path_factory.mktemp("replay"), cache_dir, "detect")


@pytest.fixture(scope="module")
def replayed_prevent(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> dict[str, dict[int, str]]:
    return _replay(tmp_path_factory.mktemp("replay-prevent"), cache_dir, "prevent")


# -- the pack itself --------------------------------------------------------------------------------


def test_pack_loads_clean(built: BuiltEngine) -> None:
    pack = load_pack(PACKS, "core")
    assert (pack.name, pack.version, pack.label) == ("core", "1.0.0", "core@1.0.0")
    manifest = yaml.safe_load((PACK / "manifest.yaml").read_text())
    assert manifest["kind"] == "ips" and manifest["description"]
    assert built.errors == [] and built.disabled == 0
    assert 30 <= built.loaded <= 60
    assert built.label == "core@1.0.0"


def test_rules_carry_metadata(built: BuiltEngine) -> None:
    classes = {line.split(":", 1)[1].split(",", 1)[0].strip()
               for line in (PACK / "classification.config").read_text().splitlines() if line.startswith("config ")}
    used = set()
    for sig in built.ruleset.signatures:
        assert sig.sid in SID_RANGE, sig.sid
        assert sig.gid == 1 and sig.rev >= 1, sig.sid
        assert sig.msg.startswith("SECCHAIN "), sig.sid
        assert sig.classtype and sig.category, sig.sid  # category: the classtype was found
        assert "created_at" in sig.metadata and "signature_severity" in sig.metadata, sig.sid
        used.add(sig.classtype)
    assert used == classes, "classification.config should list exactly the classtypes in use"


def test_pack_has_drop_reject_flowbits_and_threshold(built: BuiltEngine) -> None:
    sigs = built.ruleset.signatures
    assert any(s.action == "drop" for s in sigs) and any(s.action == "reject" for s in sigs)
    assert any(s.noalert and any(op.cmd == "set" for op in s.flowbits) for s in sigs)
    assert any(s.threshold is not None for s in sigs)


def test_every_rule_has_a_positive_case(built: BuiltEngine) -> None:
    """A rule added to the pack without a case fails here. A noalert rule never alerts: it is
    covered when a case fires a rule that tests a flowbit it sets."""
    expected = {sid for case in CASES for sid in case.expect}
    sigs = {s.sid: s for s in built.ruleset.signatures}
    assert expected <= set(sigs), f"cases expect sids the pack does not have: {sorted(expected - set(sigs))}"
    alerting = {sid for sid, s in sigs.items() if not s.noalert}
    assert alerting - expected == set(), "rules without a positive case"
    read_bits = {name for sid in expected for op in sigs[sid].flowbits if op.cmd == "isset" for name in op.names}
    for sid, s in sigs.items():
        if s.noalert:
            sets = {name for op in s.flowbits if op.cmd == "set" for name in op.names}
            assert sets & read_bits, f"noalert rule {sid} sets no flowbit that a tested rule reads"


def test_enough_negative_cases() -> None:
    benign = [c for c in CASES if not c.expect]
    kinds = {c.name.split("-")[1] for c in benign}
    assert len(benign) >= 10, len(benign)
    assert {"http", "dns", "tls"} <= kinds, kinds


def test_a_stream_case_splits_content_across_segments() -> None:
    split = [c for c in CASES if c.transport == "tcp" and c.expect and c.mss <= 4]
    assert split, "no case sends a stream rule's content in segments of a few bytes"


# -- the cases, each path -------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_replay(case: Case, replayed: dict[str, dict[int, str]],
                     replayed_prevent: dict[str, dict[int, str]]) -> None:
    assert set(replayed[case.name]) == set(case.expect)
    # As an IDS (suricata -r) a drop rule's alert says "allowed"; modelled inline (--mode
    # prevent) the same alert says "blocked" and no other rule of the case is lost.
    assert set(replayed_prevent[case.name]) == set(case.expect)
    blocked = {sid for sid, action in replayed_prevent[case.name].items() if action == "blocked"}
    assert blocked == (set(case.expect) if case.verdict else set())
    assert "blocked" not in replayed[case.name].values()


@pytest.mark.parametrize("case", [c for c in CASES if c.transport != "syn_scan"],
                         ids=[c.name for c in CASES if c.transport != "syn_scan"])
def test_case_inline(case: Case, built: BuiltEngine) -> None:
    """The detector fed the way ``proxy._Conn._inspect`` feeds it."""
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
    assert {h.sig.sid for h in hits} == set(case.expect_inline)
    verdict = det.verdict.value if det.verdict is not None else None
    assert verdict == case.verdict


# -- through the real proxy -------------------------------------------------------------------------

PROXY_CASES = [c for c in CASES if c.proxy]


async def _script_upstream(case: Case, received: bytearray):
    """A server that plays the case: reads what the client sends, answers what it answers."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            for direction, data in case.exchanges:
                if direction is C2S:
                    received.extend(await r.readexactly(len(data)))
                else:
                    w.write(data)
                    await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            w.close()

    return await asyncio.start_server(handler, "127.0.0.1", 0)


@pytest.mark.parametrize("case", PROXY_CASES, ids=[c.name for c in PROXY_CASES])
async def test_case_through_proxy(case: Case, cache_dir: Path) -> None:
    assert case.server[1] == 80 and case.client[0].startswith("198.18."), "proxy cases: external client to :80"
    received = bytearray()
    upstream = await _script_upstream(case, received)
    up_port = upstream.sockets[0].getsockname()[1]
    spec = IpsListener(name="core", tenant_id="acme", vpc_id="vpc-a", listen_host="127.0.0.1", listen_port=0,
                       upstream_host="127.0.0.1", upstream_port=up_port, mode="prevent", rulesets=("core",))
    holder: dict[str, BuiltEngine] = {}
    eve = io.StringIO()
    lst = Listener(spec, lambda _spec: holder["built"], metrics=IpsMetrics(CollectorRegistry()),
                   observer="ips-test", eve=eve)
    await lst.start()
    # The client connects from 127.0.0.2 to the listener on 127.0.0.1: home is the listener's
    # address, the HTTP port the one it got, so the pack's headers hold as they do for 10/8:80.
    holder["built"] = build_for_packs(PACKS, ("core",), {"HOME_NET": "[127.0.0.1/32]",
                                                         "HTTP_PORTS": f"[{lst.address[1]}]"}, cache_dir)
    stopped: type[Exception] | None = None
    try:
        r, w = await asyncio.open_connection(*lst.address, local_addr=("127.0.0.2", 0))
        try:
            for direction, data in case.exchanges:
                if direction is C2S:
                    for i in range(0, len(data), case.mss):
                        w.write(data[i : i + case.mss])
                        await w.drain()
                else:
                    assert await asyncio.wait_for(r.readexactly(len(data)), 5) == data
            w.write_eof()
            assert await asyncio.wait_for(r.read(), 5) == b""
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            stopped = type(exc)
        finally:
            w.close()
        await asyncio.sleep(0.05)
    finally:
        await lst.close()
        upstream.close()
        await upstream.wait_closed()
    records = [validate_eve(json.loads(line)) for line in eve.getvalue().splitlines()]
    assert {rec["alert"]["signature_id"] for rec in records} == set(case.expect_inline)
    sent = b"".join(d for direction, d in case.exchanges if direction is C2S)
    if case.verdict == "reject":
        assert stopped is ConnectionResetError, "reject answers the sender with a TCP RST"
    elif case.verdict == "drop":
        # the proxy closes both sides; the kernel turns that close into a RST if the client's
        # later segments were still unread, so either ending is a correct drop
        assert stopped in (asyncio.IncompleteReadError, ConnectionResetError), "drop closes the connection"
    else:
        assert stopped is None and bytes(received) == sent
    if case.verdict:
        # what was relayed before the match, never the chunk that completed it
        assert sent.startswith(bytes(received)) and len(received) < len(sent)
        assert {rec["alert"]["action"] for rec in records} == {"blocked"}
