"""Helpers for tests that run the real services as processes: spawn, wait for /readyz, make keys.

Used by the live control-plane tests (WAF and IPS following snapshots) and the rule-maintainer
flow, which all start an echo upstream, the API with a control-plane database, and data-plane
processes over real sockets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from shared.runtime.ports import free_port, wait_for_port
from shared.runtime.process import die_with_parent

REPO = Path(__file__).resolve().parents[1]


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``python -m <cmd>`` with its output appended to ``log``; it dies with the test process."""
    with open(log, "ab") as f:
        return subprocess.Popen([sys.executable, "-m", *cmd], stdout=f, stderr=subprocess.STDOUT, cwd=REPO,
                                stdin=subprocess.DEVNULL, preexec_fn=die_with_parent,
                                env={**os.environ, **env} if env else None)


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    """Until ``url`` answers 200; fails with the end of ``log`` if the process exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready: {log.read_text()[-3000:]}")


def api_call(api: str, key: str, method: str, path: str, body: object = None) -> dict:
    req = urllib.request.Request(api + path, data=None if body is None else json.dumps(body).encode(), method=method,
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"{}")


def create_key(api: str, provider: str, body: dict[str, str]) -> str:
    """A new API key (``{"id": ..., "role": ...}``) made with the provider key; its secret."""
    return api_call(api, provider, "POST", "/v1/keys", body)["secret"]


def start_upstream(d: Path, procs: list[subprocess.Popen[bytes]]) -> int:
    """The demo echo upstream on a free port (appended to ``procs``); its port."""
    port = free_port()
    procs.append(spawn(["services.demo_upstream", "--port", str(port)], d / "upstream.log"))
    wait_for_port("127.0.0.1", port, timeout=30)
    return port


def start_control_plane(d: Path, procs: list[subprocess.Popen[bytes]],
                        env: dict[str, str] | None = None) -> tuple[str, str]:
    """The API with a fresh control-plane database in ``d``; (its URL, the bootstrap provider key)."""
    port = free_port()
    boot = d / "bootstrap.key"
    procs.append(spawn(["services.api", "--port", str(port), "--control-db", f"sqlite:///{d / 'control.db'}",
                        "--bootstrap-key-file", str(boot), "--store", f"sqlite:///{d / 'audit.db'}"],
                       d / "api.log", env=env))
    api = f"http://127.0.0.1:{port}"
    wait_ready(api + "/readyz", procs[-1], d / "api.log")
    return api, boot.read_text().strip()
