"""The demo tenant of ``secchain up``, made through the control-plane API like any tenant.

With the bootstrap provider key the supervisor creates, over HTTP: the tenant ``demo``, its VPC
with WAF, IPS and antivirus on, the site ``demo.local`` (prevent, core pack), the IPS listener,
and four keys (provider-admin, the demo tenant's tenant-admin and analyst, and the data-plane key
the WAF follows snapshots with). It then exports the configuration as a tenancy file for the
components that still read one.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any


def _call(api: str, key: str, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(api + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=15) as resp:
        raw = resp.read()
        return json.loads(raw) if raw and resp.headers.get_content_type() == "application/json" else raw


def _secret_file(path: Path, secret: str) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")


def seed_demo(api: str, bootstrap_key: str, *, upstream_port: int, ips_port: int, dataplane_key_file: Path,
              tenancy_export: Path) -> dict[str, str]:
    """Create the demo tenant; returns the secrets {provider_admin, tenant_admin, analyst}."""
    _call(api, bootstrap_key, "POST", "/v1/tenants", {"id": "demo", "name": "Demo department"})
    _call(api, bootstrap_key, "POST", "/v1/tenants/demo/vpcs",
          {"id": "vpc-demo", "firewall": {"waf": True, "ips": True, "av": True}, "auditing": {"retention_days": 30}})
    _call(api, bootstrap_key, "POST", "/v1/tenants/demo/vpcs/vpc-demo/sites",
          {"name": "demo-site", "hosts": ["demo.local"], "upstream": f"http://127.0.0.1:{upstream_port}",
           "mode": "prevent", "rulesets": ["core"], "av_fail_policy": "closed"})
    _call(api, bootstrap_key, "POST", "/v1/tenants/demo/vpcs/vpc-demo/listeners",
          {"name": "demo-tcp", "listen": f"127.0.0.1:{ips_port}", "upstream": f"127.0.0.1:{upstream_port}",
           "mode": "prevent", "rulesets": ["core"], "vars": {"HOME_NET": "[127.0.0.0/8]", "EXTERNAL_NET": "any"}})
    keys = {
        "provider_admin": _call(api, bootstrap_key, "POST", "/v1/keys", {"id": "provider-admin", "role": "provider-admin"}),
        "tenant_admin": _call(api, bootstrap_key, "POST", "/v1/tenants/demo/keys", {"id": "demo-admin", "role": "tenant-admin"}),
        "analyst": _call(api, bootstrap_key, "POST", "/v1/tenants/demo/keys", {"id": "demo-analyst", "role": "analyst"}),
    }
    dataplane = _call(api, bootstrap_key, "POST", "/v1/keys", {"id": "dataplane", "role": "dataplane"})
    _secret_file(dataplane_key_file, dataplane["secret"])
    tenancy_export.write_bytes(_call(api, bootstrap_key, "GET", "/v1/config?format=yaml"))
    return {name: body["secret"] for name, body in keys.items()}
