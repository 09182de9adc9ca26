"""The whole chain, started through the same Supervisor that `secchain up` uses, on free ports.

Two tenants: ``acme`` (site acme.local, prevent) and ``beta`` (site beta.local, detect), each with an
analyst key, plus a provider-admin key. The WAF reads a copy of rules/waf so tests may break and
repair a pack without touching the repository.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.supervisor import Ports, Supervisor
from shared.config.tenancy import hash_key
from shared.runtime.ports import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Chain:
    sup: Supervisor
    ports: Ports
    rules_root: Path
    keys: dict[str, str]

    @property
    def waf(self) -> str:
        return f"http://127.0.0.1:{self.ports.waf}"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    @property
    def admin(self) -> str:
        return f"http://127.0.0.1:{self.ports.waf_admin}"

    def api_get(self, path: str, key: str | None) -> tuple[int, Any]:
        req = urllib.request.Request(self.api + path)
        if key is not None:
            req.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def wait_alerts(self, path: str, key: str, want: int, timeout: float = 15.0) -> dict[str, Any]:
        """Poll the audit API until ``want`` hits are visible (the pipeline is asynchronous)."""
        deadline = time.monotonic() + timeout
        body: Any = None
        while time.monotonic() < deadline:
            status, body = self.api_get(path, key)
            assert status == 200, body
            if body["total"] >= want:
                return body
            time.sleep(0.2)
        raise AssertionError(f"expected {want} alerts for {path}, got {body and body.get('total')}: {body}")


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    data = tmp_path_factory.mktemp("chain")
    rules_root = data / "rules-waf"
    shutil.copytree(REPO / "rules" / "waf", rules_root)
    upstream = free_port()
    ports = Ports(api=free_port(), waf=free_port(), waf_admin=free_port(), upstream=upstream,
                  kafka=free_port(), indexer=free_port(), av=free_port(), clamd=free_port(),
                  ips=free_port(), ips_admin=free_port())
    keys = {name: f"sk_test_{name}" for name in ("acme", "beta", "provider", "acme_admin")}
    tenancy = {
        "tenants": [
            {"id": "acme", "vpcs": [{"id": "vpc-a", "firewall": {"waf": True, "av": True}, "sites": [
                {"name": "acme-web", "hosts": ["acme.local"], "upstream": f"http://127.0.0.1:{upstream}",
                 "mode": "prevent", "rulesets": ["core"], "max_body_bytes": 65536},
                {"name": "acme-dead", "hosts": ["dead.acme.local"], "upstream": f"http://127.0.0.1:{free_port()}",
                 "mode": "prevent", "rulesets": ["core"], "upstream_timeout": 5}]}]},
            {"id": "beta", "vpcs": [{"id": "vpc-b", "sites": [
                {"name": "beta-web", "hosts": ["beta.local"], "upstream": f"http://127.0.0.1:{upstream}",
                 "mode": "detect", "rulesets": ["core"]}]}]},
        ],
        "api_keys": [
            {"id": "acme-analyst", "tenant": "acme", "role": "analyst", "sha256": hash_key(keys["acme"])},
            {"id": "acme-admin", "tenant": "acme", "role": "tenant-admin", "sha256": hash_key(keys["acme_admin"])},
            {"id": "beta-analyst", "tenant": "beta", "role": "analyst", "sha256": hash_key(keys["beta"])},
            {"id": "provider", "role": "provider-admin", "sha256": hash_key(keys["provider"])},
        ],
    }
    tenancy_path = data / "tenancy.yaml"
    tenancy_path.write_text(yaml.safe_dump(tenancy))
    sup = Supervisor(data_dir=data, ports=ports, tenancy=tenancy_path,
                     store_url=f"sqlite:///{data / 'audit.db'}", workers=1, rules_root=rules_root)
    sup.start(timeout=60)
    try:
        yield Chain(sup, ports, rules_root, keys)
    finally:
        sup.stop()
