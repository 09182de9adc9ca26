"""Run Debian's clamd as a child process with a clamd.conf we write.

clamd is started in the foreground (``Foreground yes``) as our child, in its own process group and
with PR_SET_PDEATHSIG (see :mod:`shared.runtime.process`) so it dies with ``secchain up`` or the test
session. It listens on TCP loopback only (``LocalSocket`` is not set), reads only the database folder
we give it (our compiled packs, optionally next to the official database) and logs into the data dir.
Readiness is clamd answering ``PING`` with ``PONG``: the port opens only after the database loaded.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from shared.runtime.process import die_with_parent, stop_process

CLAMD_BINARY_CANDIDATES = ("clamd", "/usr/sbin/clamd")


@dataclass(frozen=True, slots=True)
class ClamdLimits:
    """clamd.conf scan limits (clamd.conf(5)); INSTREAM bodies beyond StreamMaxLength are refused."""

    max_scan_size: str = "400M"
    max_file_size: str = "200M"
    max_recursion: int = 16
    max_files: int = 10000
    stream_max_length: str = "200M"
    max_threads: int = 4
    read_timeout: int = 30


def find_clamd() -> str:
    for candidate in CLAMD_BINARY_CANDIDATES:
        path = shutil.which(candidate)
        if path:
            return path
    raise FileNotFoundError("clamd not found (install Debian's clamav-daemon: apt-get install clamav-daemon)")


def write_clamd_conf(data_dir: Path, port: int, database_dir: Path, limits: ClamdLimits = ClamdLimits(),
                     host: str = "127.0.0.1") -> Path:
    """Write ``data_dir/clamd.conf`` and return its path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / "tmp"
    tmp.mkdir(exist_ok=True)
    lines = [
        "# written by secchain (shared/runtime/clamd.py); regenerated on every start",
        f"TCPSocket {port}",
        f"TCPAddr {host}",
        f"DatabaseDirectory {database_dir.resolve()}",
        f"TemporaryDirectory {tmp.resolve()}",
        f"LogFile {(data_dir / 'clamd.log').resolve()}",
        "LogTime yes",
        f"PidFile {(data_dir / 'clamd.pid').resolve()}",
        "Foreground yes",
        f"MaxScanSize {limits.max_scan_size}",
        f"MaxFileSize {limits.max_file_size}",
        f"MaxRecursion {limits.max_recursion}",
        f"MaxFiles {limits.max_files}",
        f"StreamMaxLength {limits.stream_max_length}",
        f"MaxThreads {limits.max_threads}",
        f"ReadTimeout {limits.read_timeout}",
        # Our packs are the database: the self-check would reload them behind our back.
        "SelfCheck 0",
    ]
    path = data_dir / "clamd.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


def clamd_ping(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if clamd at host:port answers PING with PONG."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"zPING\0")
            return sock.recv(64).rstrip(b"\0").strip() == b"PONG"
    except OSError:
        return False


class LocalClamd:
    """One clamd child on ``host:port`` serving ``database_dir``."""

    def __init__(self, port: int, database_dir: Path, data_dir: Path, limits: ClamdLimits = ClamdLimits(),
                 host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self.database_dir = database_dir
        self.data_dir = data_dir
        self.limits = limits
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir / "clamd.log"

    def start(self, timeout: float = 60.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        conf = write_clamd_conf(self.data_dir, self.port, self.database_dir, self.limits, self.host)
        stdout = open(self.data_dir / "clamd.stdout", "ab")
        try:
            self.proc = subprocess.Popen([find_clamd(), f"--config-file={conf}"], stdin=subprocess.DEVNULL,
                                         stdout=stdout, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        finally:
            stdout.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"clamd exited with code {self.proc.returncode} while starting; "
                                   f"see {self.data_dir / 'clamd.stdout'} and {self.log_path}:\n{self._tail()}")
            if clamd_ping(self.host, self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"clamd did not answer PING on {self.host}:{self.port} within {timeout:.0f} s:\n"
                           f"{self._tail()}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace=10.0)
            self.proc = None

    def _tail(self, lines: int = 20) -> str:
        out: list[str] = []
        for path in (self.data_dir / "clamd.stdout", self.log_path):
            if path.exists():
                out.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(out)
