"""End to end: client -> IPS process -> upstream; alerts -> Kafka -> indexer -> store -> audit API."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from services.ips.output.eve import validate_eve
from shared.config.tenancy import hash_key
from shared.events import validate_alert
from shared.runtime.broker import LocalBroker
from shared.runtime.ports import free_port, wait_for_port
from shared.runtime.process import die_with_parent, stop_process
from tests.ips.service.rules import write_pack

REPO = Path(__file__).resolve().parents[3]
KEY = "sk_test_ips_acme"


def echo_server() -> tuple[socket.socket, int]:
    srv = socket.create_server(("127.0.0.1", 0))

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return srv, srv.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url}: process exited {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture
def chain(tmp_path: Path, broker: LocalBroker) -> Iterator[dict]:
    sink, upstream = echo_server()
    write_pack(tmp_path / "packs")
    listen = free_port()
    tenancy = tmp_path / "tenancy.yaml"
    tenancy.write_text(yaml.safe_dump({
        "tenants": [{"id": "acme", "vpcs": [{"id": "vpc-a", "firewall": {"ips": True}, "ips_listeners": [
            {"name": "acme-db", "listen": f"127.0.0.1:{listen}", "upstream": f"127.0.0.1:{upstream}",
             "mode": "prevent", "rulesets": ["t"]}]}]}],
        "api_keys": [{"id": "acme-analyst", "tenant": "acme", "role": "analyst", "sha256": hash_key(KEY)}],
    }))
    store = f"sqlite:///{tmp_path / 'audit.db'}"
    ports = {"api": free_port(), "indexer": free_port(), "ips_admin": free_port()}
    py = [sys.executable, "-m"]
    specs = {
        "indexer": py + ["services.indexer", "--kafka", broker.bootstrap, "--store", store,
                         "--http-port", str(ports["indexer"]), "--group-id", f"ips-e2e-{listen}"],
        "api": py + ["services.api", "--port", str(ports["api"]), "--tenancy", str(tenancy), "--store", store],
        "ips": py + ["services.ips", "run", "--config", str(tenancy), "--rules-root", str(tmp_path / "packs"),
                     "--admin-port", str(ports["ips_admin"]), "--kafka", broker.bootstrap,
                     "--spool-dir", str(tmp_path / "spool"), "--cache-dir", str(tmp_path / "cache"),
                     "--eve", str(tmp_path / "eve.json")],
    }
    ready = {"indexer": f"http://127.0.0.1:{ports['indexer']}/readyz", "api": f"http://127.0.0.1:{ports['api']}/readyz",
             "ips": f"http://127.0.0.1:{ports['ips_admin']}/readyz"}
    procs: list[subprocess.Popen] = []
    try:
        for name, cmd in specs.items():
            log = tmp_path / f"{name}.log"
            with open(log, "wb") as fh:
                procs.append(subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT,
                                              preexec_fn=die_with_parent))
            wait_ready(ready[name], procs[-1], log)
        wait_for_port("127.0.0.1", listen, timeout=10)
        yield {"listen": listen, "api": ports["api"], "eve": tmp_path / "eve.json", "admin": ports["ips_admin"]}
    finally:
        for p in reversed(procs):
            stop_process(p)
        sink.close()


def api_alerts(port: int, query: str) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/alerts?{query}",
                                 headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_an_attack_through_the_ips_is_dropped_and_searchable(chain: dict) -> None:
    with socket.create_connection(("127.0.0.1", chain["listen"]), timeout=10) as s:
        s.sendall(b"hello")
        assert s.recv(100) == b"hello"
        client_port = s.getsockname()[1]
        s.sendall(b"payload EVIL-DROP")
        assert s.recv(100) == b""  # the IPS closed the connection instead of forwarding
    deadline = time.monotonic() + 20
    body: dict = {}
    while time.monotonic() < deadline:
        body = api_alerts(chain["api"], "module=ips&from=now-1h")
        if body["total"] >= 1:
            break
        time.sleep(0.2)
    assert body.get("total") == 1, body
    (hit,) = body["hits"]
    validate_alert(hit)
    assert hit["event"]["module"] == "ips" and hit["event"]["action"] == "dropped"
    assert hit["rule"]["id"] == "9100002" and hit["rule"]["ruleset"] == "t@1.0.0"
    assert hit["tenant"]["id"] == "acme" and hit["service"]["name"] == "acme-db"
    assert hit["source"]["port"] == client_port and hit["destination"]["port"] == chain["listen"]
    (rec,) = [validate_eve(json.loads(line)) for line in chain["eve"].read_text().splitlines()]
    assert str(rec["flow_id"]) == hit["flow"]["id"]  # one id across EVE and the audit trail
    by_rule = api_alerts(chain["api"], "module=ips&rule_id=9100002&from=now-1h")
    assert by_rule["total"] == 1
    assert api_alerts(chain["api"], "module=waf&from=now-1h")["total"] == 0
