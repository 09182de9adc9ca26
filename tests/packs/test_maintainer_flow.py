"""The rule maintainer's path end to end, with the CLI against real API, WAF and upstream processes.

Two versions of the core WAF pack are published through the API (1.1.0 adds a rule); the demo
site pins 1.0.0 and shadows 1.1.0; a known traffic mix gives exact shadow counts; promote makes
the new rule block and rollback restores the previous behaviour, each within 2 seconds, while
concurrent traffic sees no failure. The WAF shares no folder with the API: it fetches each pinned
bundle from the registry by hash.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.packs.cli import main as rules_main
from shared.runtime.ports import free_port
from shared.runtime.process import stop_process
from tests.live import api_call, spawn, start_control_plane, start_upstream, wait_ready
from tests.packs.conftest import PROBE_CASE, PROBE_RULE, copy_core

REPO = Path(__file__).resolve().parents[2]
SITE = "demo/vpc-demo/demo-site"


@dataclass
class Flow:
    api: str
    waf: str
    admin_key: Path
    maintainer_key: Path
    packs: dict[str, Path]
    shadow_db: Path
    logs: Path


def _probe(waf: str, query: str) -> int:
    req = urllib.request.Request(f"{waf}/?{query}", headers={"Host": "demo.local"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory, broker) -> Iterator[Flow]:  # noqa: ANN001
    d = tmp_path_factory.mktemp("flow")
    rules_root = d / "rules"
    shutil.copytree(REPO / "rules" / "waf", rules_root / "waf", ignore=shutil.ignore_patterns("tests"))
    packs = {"1.0.0": copy_core(d / "core-1.0.0", "1.0.0"),
             "1.1.0": copy_core(d / "core-1.1.0", "1.1.0", extra_rule=PROBE_RULE, extra_case=PROBE_CASE)}
    bundles = d / "bundles-api"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        up = start_upstream(d, procs)
        api, provider = start_control_plane(d, procs, env={"SECCHAIN_BUNDLES_DIR": str(bundles)})
        keys = {}
        for key_id, role in (("maintainer", "rule-maintainer"), ("waf-fleet", "dataplane")):
            keys[key_id] = d / f"{key_id}.key"
            keys[key_id].write_text(api_call(api, provider, "POST", "/v1/keys", {"id": key_id, "role": role})["secret"])
        for version, folder in packs.items():
            assert rules_main(["publish", str(folder), "--changelog", f"core {version}", "--api", api,
                               "--key-file", str(keys["maintainer"]), "--bundles-dir", str(d / "bundles-cli"),
                               "--cache-dir", str(d / "cache-cli")]) == 0
        api_call(api, provider, "POST", "/v1/tenants", {"id": "demo"})
        api_call(api, provider, "POST", "/v1/tenants/demo/vpcs", {"id": "vpc-demo"})
        api_call(api, provider, "POST", "/v1/tenants/demo/vpcs/vpc-demo/sites",
             {"name": "demo-site", "hosts": ["demo.local"], "upstream": f"http://127.0.0.1:{up}",
              "mode": "prevent", "rulesets": ["core@1.0.0"]})
        waf_port, admin_port = free_port(), free_port()
        procs.append(spawn(["services.waf", "--port", str(waf_port), "--admin-port", str(admin_port),
                             "--control-url", api, "--control-key-file", str(keys["waf-fleet"]), "--control-wait", "5",
                             "--kafka", broker.bootstrap, "--rules-root", str(rules_root / "waf"),
                             # its own bundles folder: pinned versions are fetched from the API by hash
                             "--bundles-dir", str(d / "bundles-waf"), "--shadow-db", str(d / "shadow.db"),
                             "--spool-dir", str(d / "spool"), "--cache-dir", str(d / "cache")], d / "waf.log"))
        wait_ready(f"http://127.0.0.1:{admin_port}/readyz", procs[-1], d / "waf.log")
        admin = d / "admin.key"
        admin.write_text(provider)
        yield Flow(api, f"http://127.0.0.1:{waf_port}", admin, keys["maintainer"], packs, d / "shadow.db", d)
    finally:
        for p in reversed(procs):
            stop_process(p, grace=15)


def _rules(flow: Flow, *args: str) -> int:
    return rules_main([*args, "--site", SITE, "--api", flow.api, "--key-file", str(flow.admin_key)])


def test_publish_is_immutable_through_the_api(flow: Flow, capsys) -> None:  # noqa: ANN001
    with open(flow.packs["1.1.0"] / "probe.conf", "a") as f:
        f.write("# an edit without a version bump\n")
    assert rules_main(["publish", str(flow.packs["1.1.0"]), "--changelog", "again", "--api", flow.api,
                       "--key-file", str(flow.maintainer_key), "--bundles-dir", str(flow.logs / "bundles-cli")]) == 1
    assert "is already published with bundle" in capsys.readouterr().out
    assert rules_main(["versions", "waf/core", "--api", flow.api, "--key-file", str(flow.maintainer_key)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["core@1.0.0", "core@1.1.0"] and "maintainer" in out[0]


def test_shadow_promote_rollback(flow: Flow, capsys) -> None:  # noqa: ANN001
    assert _probe(flow.waf, "probe=shadow-test") == 200          # core@1.0.0 has no probe rule
    assert _rules(flow, "shadow", "core@1.1.0") == 0
    deadline = time.monotonic() + 5
    mix = [("probe=shadow-test", 200)] * 6 + [("id=1%27%20OR%20%271%27=%271", 403)] * 4 + [("page=2", 200)] * 5
    for query, expected in mix:
        assert _probe(flow.waf, query) == expected, query
    while True:
        capsys.readouterr()
        assert rules_main(["diff-report", "--site", "demo-site", "--since", "1h", "--shadow-db", str(flow.shadow_db),
                           "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        if report["evaluated"] >= len(mix) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    # every request since the shadow went live is evaluated: the mix, nothing else
    assert (report["evaluated"], report["differed"], report["dropped"]) == (15, 6, 0)
    assert report["rules"] == [{"rule_id": 1099001, "candidate_only": 6, "active_only": 0}]
    assert report["pairs"] == [["core@1.0.0", "core@1.1.0"]]

    stop = threading.Event()
    failures: list[str] = []
    served = [0]

    def load() -> None:
        while not stop.is_set():
            status = _probe(flow.waf, "page=1")
            served[0] += 1
            if status != 200:
                failures.append(str(status))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for command, expected in ((["promote"], 403), (["rollback"], 200)):
            started = time.monotonic()
            assert _rules(flow, *command) == 0
            while _probe(flow.waf, "probe=shadow-test") != expected:
                assert time.monotonic() - started < 2.0, f"{command} not live within 2 s"
                time.sleep(0.02)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == [] and served[0] > 20
    out = capsys.readouterr().out
    assert "promoted core@1.1.0 (was core@1.0.0)" in out and "rolled back core@1.1.0 -> core@1.0.0" in out
    assert "live on 1 WAF instance(s)" in out
