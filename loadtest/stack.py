"""What every benchmark runs against, started the same way: the demo echo upstream and the WAF.

Both run as child processes that die with the benchmark (as ``secchain up`` runs them); the WAF
gets its own spool, cache and log under the benchmark's work folder, and no broker unless one is
named (alerts then go to the disk spool, which is what a WAF does when Kafka is away).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

from shared.runtime.ports import free_port, wait_for_port
from shared.runtime.process import die_with_parent

REPO = Path(__file__).resolve().parents[1]


def start_upstream(procs: list[subprocess.Popen]) -> int:
    """The echo upstream on a free port, appended to ``procs``; returns once it listens."""
    port = free_port()
    procs.append(subprocess.Popen([sys.executable, "-m", "services.demo_upstream", "--port", str(port)], cwd=REPO,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, preexec_fn=die_with_parent))
    wait_for_port("127.0.0.1", port, timeout=60)
    return port


def start_waf(work: Path, name: str, tenancy: dict | Path, *, kafka: str = "127.0.0.1:1", workers: int = 1,
              extra_args: Sequence[str] = (), env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    """A WAF process named ``name`` (log ``work/<name>.log``); call :func:`wait_listening` before use."""
    if isinstance(tenancy, dict):
        path = work / f"{name}-tenancy.yaml"
        path.write_text(yaml.safe_dump(tenancy))
        tenancy = path
    port, admin = free_port(), free_port()
    with open(work / f"{name}.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.waf", "--port", str(port), "--admin-port", str(admin),
             "--tenancy", str(tenancy), "--kafka", kafka, "--spool-dir", str(work / f"{name}-spool"),
             "--cache-dir", str(work / f"{name}-cache"), "--workers", str(workers), "--log-level", "WARNING",
             *extra_args],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent, env=env)
    return proc, port


def wait_listening(proc: subprocess.Popen, port: int, what: str, log: Path, timeout: float = 600) -> None:
    """Until ``port`` accepts connections (the WAF binds only after its rules are loaded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            wait_for_port("127.0.0.1", port, timeout=1)
            return
        except TimeoutError:
            continue
    raise RuntimeError(f"{what} not listening after {timeout:.0f} s")
