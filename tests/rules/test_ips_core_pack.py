"""Every case of rules/ips/core/cases.yaml through the IPS the ways it really runs, per case.

The cases, their generated captures and the replay / inline checks are the product's
(services.ips.packcases, what ``secchain rules test ips/core`` runs). Here each case is checked
three ways, each as its own test:

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
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from services.ips import replay
from services.ips.config import BuiltEngine, build_for_packs, load_pack
from services.ips.output.eve import validate_eve
from services.ips.packcases import C2S, CASE_VARS, Case, inline_case, load_cases, split_eve, write_cases_pcap
from services.ips.proxy import IpsMetrics, Listener
from shared.config.tenancy import IpsListener

PACKS = Path(__file__).resolve().parents[2] / "rules" / "ips"
PACK = PACKS / "core"
VARS = CASE_VARS
SID_RANGE = range(9200000, 9300000)
CASES = load_cases(PACK / "cases.yaml")


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hs-cache")


@pytest.fixture(scope="module")
def built(cache_dir: Path) -> BuiltEngine:
    return build_for_packs(PACKS, ("core",), VARS, cache_dir)


def _replay(folder: Path, cache_dir: Path, mode: str) -> dict[str, dict[int, str]]:
    """One capture of every case through ``secchain ips replay``: {case: {sid: EVE action}}."""
    pcap = write_cases_pcap(folder / "core-cases.pcap", CASES)
    eve = folder / "eve.json"
    argv = [str(pcap), "--rulesets", "core", "--rules-root", str(PACKS), "--eve", str(eve),
            "--cache-dir", str(cache_dir), "--mode", mode]
    for name, value in VARS.items():
        argv += ["--var", f"{name}={value}"]
    assert replay.main(argv) == 0
    return split_eve(eve.read_text().splitlines(), CASES)


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
    sids, verdict = inline_case(built, case)
    assert sids == set(case.expect_inline)
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
