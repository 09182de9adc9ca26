"""Child-process helpers: children die with their parent, and stop gracefully then forcefully."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time

_PR_SET_PDEATHSIG = 1

log = logging.getLogger("secchain.process")


def die_with_parent() -> None:
    """preexec_fn: SIGTERM this child when its parent dies (no orphans after a crash), in its own
    process group so a terminal's Ctrl-C reaches only the parent, which then stops children in order."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setpgid(0, 0)


def stop_process(proc: subprocess.Popen, grace: float = 10.0) -> int | None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL. Returns the exit code."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
    except ProcessLookupError:
        return proc.poll()


def python_module_cmd(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def env_with_unbuffered() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_workers(command: list[str], count: int, *, what: str) -> int:
    """Run ``count`` copies of ``command + ["--worker-index", i]`` and supervise them.

    The pre-fork model of nginx and Suricata's workers: each worker binds the same listening
    sockets with SO_REUSEPORT, so the kernel spreads connections over them. SIGTERM/SIGINT stop all
    workers, SIGHUP is forwarded (each reloads its rules); if one worker dies the others are
    stopped too, so the supervisor above (systemd, ``secchain up``, Docker) sees the failure and
    restarts the whole service instead of it silently running at reduced capacity.
    """
    children = [subprocess.Popen([*command, "--worker-index", str(i)], preexec_fn=die_with_parent)
                for i in range(count)]
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    while not stopping:
        if any(c.poll() is not None for c in children):
            log.error("a %s worker exited; stopping the others", what)
            break
        time.sleep(0.5)
    for child in children:
        stop_process(child)
    return max((c.returncode or 0) for c in children)
