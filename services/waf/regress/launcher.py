"""Starts the demo upstream and a WAF with one CRS site, for a self-contained regression run.

The CRS regression suite is written for paranoia level 4 in detection-only mode (every rule
evaluated, nothing blocked, so one request can show several rules' ids); ``mode: detect`` gives
ModSecurity's DetectionOnly semantics. The site answers to the Host names the suite uses.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from shared.runtime.ports import free_port, wait_for_port
from shared.runtime.process import die_with_parent, stop_process

REPO = Path(__file__).resolve().parents[3]
# Every Host value of the CRS 3.3 suite that a site can be named by (Apache sends them all to its one
# virtual host; we route by Host). "", "localhost%00" and missing Host need a default site (none yet).
SUITE_HOSTS = ("localhost", "example.com", "127.0.0.1", "1.2.3.4")


class LaunchError(RuntimeError):
    """The upstream or the WAF did not come up; the message includes the WAF's log tail."""


def crs_tenancy(upstream: str, *, paranoia: int = 4, mode: str = "detect",
                hosts: tuple[str, ...] = SUITE_HOSTS) -> dict:
    return {"tenants": [{"id": "crs-regress", "vpcs": [{"id": "vpc-regress", "sites": [{
        "name": "crs", "hosts": list(hosts), "upstream": upstream, "mode": mode, "rulesets": ["crs"],
        "crs": {"paranoia_level": paranoia, "inbound_threshold": 5, "outbound_threshold": 4},
    }]}]}]}


@dataclass
class LaunchedWaf:
    """A running upstream + WAF pair; ``stop()`` ends both and removes the temp dir it made."""

    port: int
    admin_port: int
    match_log: Path
    work_dir: Path
    procs: list[subprocess.Popen] = field(default_factory=list)
    owns_dir: bool = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc)
        self.procs.clear()
        if self.owns_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)


def _wait_ready(admin_port: int, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    state = f"exited with {proc.returncode}" if proc.poll() is not None else f"not ready after {timeout:.0f} s"
    raise LaunchError(f"WAF {state}; log tail:\n{tail}")


def launch(*, paranoia: int = 4, mode: str = "detect", workers: int = 1, cache_dir: Path | None = None,
           work_dir: Path | None = None, hosts: tuple[str, ...] = SUITE_HOSTS, timeout: float = 300.0) -> LaunchedWaf:
    """Start upstream + WAF (CRS at ``paranoia``) on free ports; the caller must ``stop()`` it.

    ``cache_dir`` keeps compiled Hyperscan databases between runs (CRS at PL4 compiles in tens of
    seconds on this machine, a cached load in a few).
    """
    owns = work_dir is None
    work = work_dir or Path(tempfile.mkdtemp(prefix="secchain-regress-"))
    work.mkdir(parents=True, exist_ok=True)
    launched = LaunchedWaf(port=free_port(), admin_port=free_port(), match_log=work / "match.log",
                           work_dir=work, owns_dir=owns)
    try:
        up_port = free_port()
        launched.procs.append(subprocess.Popen(
            [sys.executable, "-m", "services.demo_upstream", "--port", str(up_port)], cwd=REPO,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent))
        wait_for_port("127.0.0.1", up_port, timeout=30)
        tenancy = work / "tenancy.yaml"
        tenancy.write_text(yaml.safe_dump(crs_tenancy(f"http://127.0.0.1:{up_port}", paranoia=paranoia,
                                                      mode=mode, hosts=hosts)))
        log = work / "waf.log"
        with open(log, "wb") as out:
            waf = subprocess.Popen(
                [sys.executable, "-m", "services.waf", "--port", str(launched.port),
                 "--admin-port", str(launched.admin_port), "--tenancy", str(tenancy),
                 "--kafka", "127.0.0.1:1",  # no broker: alerts spool to disk, the match log is what counts
                 "--spool-dir", str(work / "spool"), "--cache-dir", str(cache_dir or work / "cache"),
                 "--match-log", str(launched.match_log), "--workers", str(workers), "--log-level", "WARNING"],
                cwd=REPO, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        launched.procs.append(waf)
        _wait_ready(launched.admin_port, waf, log, timeout)
        wait_for_port("127.0.0.1", launched.port, timeout=30)
    except BaseException:
        launched.stop()
        raise
    return launched
