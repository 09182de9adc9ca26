"""``python -m services.indexer`` as a real process: SIGKILL mid-stream, restart, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka.structs import TopicPartition

from shared.bus.clients import new_consumer, new_producer
from shared.bus.topics import ALERTS_TOPIC
from shared.runtime.broker import LocalBroker
from shared.runtime.ports import free_port, wait_for_port
from shared.stores.sqlite import SqliteStore
from tests.bus.kafka_read import make_alert
from tests.indexer.store_read import stored_event_ids, wait_for_total

ROOT = Path(__file__).resolve().parents[2]


class IndexerProcess:
    def __init__(self, bootstrap: str, db: Path, log: Path) -> None:
        self.port = free_port()
        self._log = open(log, "ab")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.indexer", "--kafka", bootstrap, "--store", f"sqlite:///{db}",
             "--http-port", str(self.port), "--batch-size", "50", "--batch-wait", "0.05"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        wait_for_port("127.0.0.1", self.port, timeout=30)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            body = exc.read().decode()
            exc.close()
            return exc.code, body

    def finish(self, sig: int, timeout: float = 20.0) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    instance = SqliteStore(tmp_path / "audit.db")
    instance.ensure_ready()
    yield instance
    instance.close()


def produce(bootstrap: str, alerts: list[dict]) -> None:
    kp = new_producer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for alert in alerts:
            kp.send(ALERTS_TOPIC, key=alert["tenant"]["id"].encode(), value=json.dumps(alert).encode())
        kp.flush(20)
    finally:
        kp.close()


def test_indexer_killed_mid_stream_and_restarted_loses_nothing_and_stores_nothing_twice(
        fresh_broker: LocalBroker, store: SqliteStore, tmp_path: Path) -> None:
    alerts = [make_alert(f"dept-{i % 4}", i) for i in range(3000)]
    produce(fresh_broker.bootstrap, alerts[:1500])
    first = IndexerProcess(fresh_broker.bootstrap, Path(store.path), tmp_path / "indexer-1.log")
    assert 0 < wait_for_total(store, 1) < 3000
    assert first.finish(signal.SIGKILL) == -signal.SIGKILL
    produce(fresh_broker.bootstrap, alerts[1500:])

    second = IndexerProcess(fresh_broker.bootstrap, Path(store.path), tmp_path / "indexer-2.log")
    try:
        assert wait_for_total(store, 3000) == 3000
        assert stored_event_ids(store) == {a["event"]["id"]: 1 for a in alerts}
        status, body = second.get("/readyz")
        assert status == 200, body
        status, metrics = second.get("/metrics")
        assert status == 200
        assert "secchain_indexer_records_indexed_total" in metrics
        assert "secchain_indexer_batch_seconds_bucket" in metrics
    finally:
        code = second.finish(signal.SIGTERM)
    assert code == 0, (tmp_path / "indexer-2.log").read_text()[-2000:]

    # A clean stop leaves every consumed record committed for the group.
    consumer = new_consumer(bootstrap_servers=fresh_broker.bootstrap, group_id="secchain-indexer",
                            enable_auto_commit=False)
    try:
        offsets = [consumer.committed(TopicPartition(ALERTS_TOPIC, p)) for p in range(3)]
    finally:
        consumer.close()
    assert sum(o or 0 for o in offsets) == 3000


def test_readyz_reports_an_unreachable_broker(store: SqliteStore, tmp_path: Path) -> None:
    proc = IndexerProcess(f"127.0.0.1:{free_port()}", Path(store.path), tmp_path / "indexer.log")
    try:
        status, body = proc.get("/readyz")
        assert status == 503
        assert json.loads(body)["status"] == "not ready"
        assert proc.get("/healthz")[0] == 200
    finally:
        assert proc.finish(signal.SIGTERM) == 0
