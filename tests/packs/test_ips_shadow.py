"""IPS listeners: pins to published bundles, and a shadow candidate on real proxied flows.

Traffic mix through the real Listener (listener pinned to core@1.0.0, shadowing core@1.1.0, where
1.1.0 drops the sqlmap rule 9200102 and adds 9200990 for /wp-login.php):

    3 flows  Nmap NSE user agent      9200100 in both          -> no difference
    2 flows  sqlmap user agent        9200102 in active only
    4 flows  GET /wp-login.php        9200990 in candidate only
    5 flows  benign browsing          nothing                  -> no difference

so the report must say exactly: 14 flows evaluated, 6 differed, 9200990 candidate-only 4,
9200102 active-only 2.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import time
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from services.ips.config import EngineKey, EngineTable, PackError, build_for_packs
from services.ips.packcases import BROWSER
from services.ips.proxy import IpsMetrics, Listener
from services.packs.cli import main as rules_main
from services.packs.shadow import ShadowEvaluator, diff_report
from shared.config.tenancy import IpsListener, parse_tenancy
from shared.control.model import check_schema, listener_doc
from shared.control.errors import ValidationFailed
from shared.packs.bundle import compile_bundle, write_index
from shared.packs.manifest import load_manifest
from shared.runtime.ports import free_port
from tests.packs.conftest import REPO

CORE_IPS = REPO / "rules" / "ips" / "core"
NEW_RULE = ('alert http $EXTERNAL_NET any -> $HOME_NET $HTTP_PORTS (msg:"SECCHAIN SCAN WordPress login probe"; '
            'flow:established,to_server; http.uri; content:"/wp-login.php"; fast_pattern; classtype:attempted-recon; '
            'metadata:created_at 2026_11_28, signature_severity Minor; sid:9200990; rev:1;)\n')


def _publish(folder: Path, bundles: Path) -> str:
    m = load_manifest(folder)
    bundle = compile_bundle(m, bundles, progress=False)
    write_index(bundles, "ips", m.name, m.version, bundle.sha256)
    return m.label


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ips-bundles")
    assert _publish(CORE_IPS, root / "b") == "core@1.0.0"
    cand = root / "core-1.1.0"
    shutil.copytree(CORE_IPS, cand)
    manifest = yaml.safe_load((cand / "manifest.yaml").read_text())
    manifest["version"] = "1.1.0"
    (cand / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    rules = [line for line in (cand / "scanners.rules").read_text().splitlines(keepends=True) if "sid:9200102;" not in line]
    (cand / "scanners.rules").write_text("".join(rules) + NEW_RULE)
    assert _publish(cand, root / "b") == "core@1.1.0"
    return root / "b"


def _spec(port: int, up_port: int, **kw) -> IpsListener:  # noqa: ANN003
    return IpsListener(name="tcp-shop", tenant_id="acme", vpc_id="vpc-a", listen_host="127.0.0.1", listen_port=port,
                       upstream_host="127.0.0.1", upstream_port=up_port, mode="prevent",
                       rulesets=("core@1.0.0",), variables=(("HOME_NET", "[127.0.0.1/32]"), ("HTTP_PORTS", f"[{port}]")),
                       **kw)


def test_pins_resolve_to_published_bundles(bundles: Path, tmp_path: Path) -> None:
    built = build_for_packs(REPO / "rules" / "ips", ("core@1.1.0",), {"HOME_NET": "[10.0.0.0/8]"}, tmp_path, bundles)
    sids = {s.sid for s in built.ruleset.signatures}
    assert built.label == "core@1.1.0" and 9200990 in sids and 9200102 not in sids
    assert all(Path(f).is_relative_to(bundles) for f in built.rulesets)
    with pytest.raises(PackError, match=r"ips pack core@9\.9\.9 is not published"):
        build_for_packs(REPO / "rules" / "ips", ("core@9.9.9",), None, tmp_path, bundles)


def test_listener_schema_and_tenancy_accept_pins_and_shadow() -> None:
    body = {"name": "db", "listen": "127.0.0.1:9400", "upstream": "10.0.3.8:5432", "rulesets": ["core@1.0.0"],
            "shadow": "core@1.1.0"}
    check_schema("listener", body)
    with pytest.raises(ValidationFailed) as err:
        check_schema("listener", {**body, "shadow": "core 1.1"})
    assert err.value.field == "shadow"
    doc = {"tenants": [{"id": "acme", "vpcs": [{"id": "vpc-a", "firewall": {"ips": True},
                                                "ips_listeners": [{k: v for k, v in body.items()}]}]}]}
    lst = parse_tenancy(doc).ips_listeners[0]
    assert (lst.rulesets, lst.shadow) == (("core@1.0.0",), "core@1.1.0")
    assert listener_doc(lst)["shadow"] == "core@1.1.0"
    doc["tenants"][0]["vpcs"][0]["ips_listeners"][0]["shadow"] = "core"
    with pytest.raises(Exception, match=r"shadow: expected a published pack version such as core@1\.3\.0"):
        parse_tenancy(doc)


def test_broken_candidate_never_takes_the_listener_down(bundles: Path, tmp_path: Path) -> None:
    table = EngineTable(REPO / "rules" / "ips", tmp_path, bundles_dir=bundles)
    spec = _spec(9999, 9998, shadow="core@7.0.0")
    table.rebuild([spec])
    built = table.get(spec)
    assert built.label == "core@1.0.0" and built.shadow is None
    assert "core@7.0.0 is not published" in (built.shadow_error or "")
    assert EngineKey.of(spec).candidate() == EngineKey(("core@7.0.0",), EngineKey.of(spec).variables)


async def _upstream() -> asyncio.Server:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            await r.readuntil(b"\r\n\r\n")
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            w.close()

    return await asyncio.start_server(handler, "127.0.0.1", 0)


def _request(path: str, agent: str) -> bytes:
    headers = {**BROWSER, "User-Agent": agent}
    return (f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()


FIREFOX = BROWSER["User-Agent"]
MIX = ([("/", "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)")] * 3
       + [("/products.php?id=1", "sqlmap/1.8.2#stable (https://sqlmap.org)")] * 2
       + [("/wp-login.php", FIREFOX)] * 4
       + [(p, FIREFOX) for p in ("/", "/about", "/news?page=2", "/static/app.css", "/contact")])


async def test_shadow_on_a_listener_counts_exact_differences(bundles: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    upstream = await _upstream()
    up_port = upstream.sockets[0].getsockname()[1]
    spec = _spec(free_port(), up_port, shadow="core@1.1.0")
    table = EngineTable(REPO / "rules" / "ips", tmp_path / "cache", bundles_dir=bundles)
    await asyncio.get_running_loop().run_in_executor(None, table.rebuild, [spec])
    assert table.get(spec).shadow is not None and table.get(spec).shadow.label == "core@1.1.0"
    recorder = ShadowEvaluator(tmp_path / "ips-shadow.db", flush_interval=0.05)
    eve = io.StringIO()
    lst = Listener(spec, table.get, metrics=IpsMetrics(CollectorRegistry()), observer="ips-test", eve=eve,
                   shadow_recorder=recorder)
    await lst.start()
    started = time.time()
    try:
        for path, agent in MIX:
            r, w = await asyncio.open_connection(*lst.address, local_addr=("127.0.0.2", 0))
            w.write(_request(path, agent))
            await w.drain()
            assert (await asyncio.wait_for(r.read(), 5)).endswith(b"ok"), path  # all forwarded
            w.close()
            await w.wait_closed()
        deadline = time.monotonic() + 5
        while lst._conns and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    finally:
        await lst.close()
        upstream.close()
        await upstream.wait_closed()
    await asyncio.get_running_loop().run_in_executor(None, recorder.close, 5.0)
    # the candidate never acted: alerts are the active pack's only
    fired = [json.loads(line)["alert"]["signature_id"] for line in eve.getvalue().splitlines()]
    assert sorted(fired) == [9200100] * 3 + [9200102] * 2
    report = diff_report(tmp_path / "ips-shadow.db", "tcp-shop", started - 60)
    assert (report.evaluated, report.differed, report.dropped) == (14, 6, 0)
    assert report.pairs == [("core@1.0.0", "core@1.1.0")]
    assert [(r.rule_id, r.candidate_only, r.active_only) for r in report.rules] == [(9200990, 4, 0), (9200102, 0, 2)]
    assert rules_main(["diff-report", "--listener", "tcp-shop", "--shadow-db", str(tmp_path / "ips-shadow.db")]) == 0
    out = capsys.readouterr().out
    assert "shadow report for listener tcp-shop, last 1h: active core@1.0.0 vs candidate core@1.1.0" in out
    assert "14 flows evaluated, 6 differed, 0 not evaluated" in out
