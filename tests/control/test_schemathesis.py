"""Property-based fuzzing of the live API process from its own OpenAPI document (schemathesis).

Every operation gets generated requests (valid and invalid bodies, parameters and paths) with a
provider-admin key, against a control plane seeded with a tenant, VPC, site and listener. Checks:
no server error, only documented status codes, and success bodies that match their schema. The
number of examples is bounded so the whole run stays well under a minute.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from shared.runtime.ports import free_port
from shared.runtime.process import die_with_parent, stop_process
from tests.control.conftest import openapi_document
from tests.live import wait_ready

REPO = Path(__file__).resolve().parents[2]
EXCLUDED = {
    "/v1/dataplane/snapshot",  # the long poll waits up to 30 s per example; test_dataplane.py covers it
    "/v1/alerts/export",       # streams every alert; covered by tests/api
}
SCHEMA = schemathesis.openapi.from_dict(openapi_document())
OPERATIONS = [op for op in (r.ok() for r in SCHEMA.get_all_operations()) if op.path not in EXCLUDED]


def _post(api: str, key: str, path: str, body: dict[str, Any]) -> None:
    req = urllib.request.Request(api + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10):
        pass


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    d = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    log = d / "api.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "services.api", "--port", str(port),
                                 "--control-db", f"sqlite:///{d / 'control.db'}", "--bootstrap-key-file",
                                 str(d / "boot.key"), "--store", f"sqlite:///{d / 'audit.db'}"],
                                stdout=out, stderr=subprocess.STDOUT, cwd=REPO, preexec_fn=die_with_parent)
    try:
        api = f"http://127.0.0.1:{port}"
        wait_ready(api + "/readyz", proc, log)
        key = (d / "boot.key").read_text().strip()
        _post(api, key, "/v1/tenants", {"id": "demo"})
        _post(api, key, "/v1/tenants/demo/vpcs", {"id": "vpc-1"})
        _post(api, key, "/v1/tenants/demo/vpcs/vpc-1/sites",
              {"name": "web", "hosts": ["web.demo.example"], "upstream": "http://127.0.0.1:9"})
        _post(api, key, "/v1/tenants/demo/vpcs/vpc-1/listeners",
              {"name": "tcp", "listen": "127.0.0.1:19999", "upstream": "127.0.0.1:9"})
        yield api, key
        text = log.read_text()
        assert "unhandled error" not in text and "Traceback" not in text, text[-5000:]
    finally:
        stop_process(proc, grace=10)


@pytest.mark.parametrize("operation", OPERATIONS, ids=[f"{op.method.upper()} {op.path}" for op in OPERATIONS])
def test_generated_requests_get_no_server_error(operation: Any, live_api: tuple[str, str]) -> None:
    api, key = live_api

    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def run(case: Any) -> None:
        case.call_and_validate(base_url=api, headers={"Authorization": f"Bearer {key}"},
                               checks=[not_a_server_error, status_code_conformance, response_schema_conformance])

    run()
