"""LocalBroker and ensure_topics: a real tansu, and no orphan when its parent dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared.bus.clients import new_admin
from shared.runtime.broker import BrokerError, LocalBroker, ensure_topics, kafka_answers
from shared.runtime.ports import free_port
from tests.plugins.broker import unique_name

ROOT = Path(__file__).resolve().parents[2]


def test_ensure_topics_creates_missing_topics_once_with_their_partition_counts(broker: LocalBroker) -> None:
    a, b = unique_name("ta"), unique_name("tb")
    ensure_topics(broker.bootstrap, {a: 3, b: 1})
    ensure_topics(broker.bootstrap, {a: 5, b: 1})  # existing topics are left as they are
    admin = new_admin(bootstrap_servers=broker.bootstrap)
    try:
        described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics([a, b])}
    finally:
        admin.close()
    assert described == {a: 3, b: 1}


def test_stop_frees_the_port_and_a_new_broker_can_take_it(tmp_path: Path) -> None:
    b = LocalBroker(free_port(), log_path=tmp_path / "tansu.log").start()
    assert kafka_answers(b.bootstrap)
    b.stop()
    assert not b.running() and not kafka_answers(b.bootstrap, timeout=0.5)
    with LocalBroker(b.port, log_path=tmp_path / "tansu.log") as again:
        assert kafka_answers(again.bootstrap)
    assert "listening on" in (tmp_path / "tansu.log").read_text()


def test_a_taken_port_is_refused_rather_than_probing_someone_else(tmp_path: Path, broker: LocalBroker) -> None:
    second = LocalBroker(broker.port, log_path=tmp_path / "tansu.log")
    with pytest.raises(BrokerError, match="port is already in use"):
        second.start(timeout=10)
    assert not second.running()


def test_broker_dies_with_its_parent(tmp_path: Path) -> None:
    port = free_port()
    script = ("import sys, time; from shared.runtime.broker import LocalBroker; "
              f"b = LocalBroker({port}, log_path=__import__('pathlib').Path({str(tmp_path / 'tansu.log')!r})).start(); "
              "print(b.pid, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert parent.stdout is not None
    try:
        child_pid = int(parent.stdout.readline())
        assert kafka_answers(f"127.0.0.1:{port}")
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        parent.stdout.close()
    deadline = time.monotonic() + 10
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child_pid), f"tansu pid {child_pid} outlived its parent"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"  # a zombie is dead, only not yet reaped
    except FileNotFoundError:
        return False
