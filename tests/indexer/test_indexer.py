"""Indexer against a real tansu broker and the real SQLite store."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka.structs import TopicPartition

from services.indexer import Indexer
from shared.bus import AlertProducer
from shared.bus.clients import new_consumer, new_producer
from shared.runtime.broker import LocalBroker, ensure_topics
from shared.stores.sqlite import SqliteStore
from tests.bus.kafka_read import make_alert, read_topic
from tests.indexer.store_read import stored_event_ids, wait_for_total
from tests.plugins.broker import restart_broker, unique_name


@pytest.fixture
def topics(broker: LocalBroker) -> tuple[str, str]:
    alerts, dlq = unique_name("alerts"), unique_name("dlq")
    ensure_topics(broker.bootstrap, {alerts: 3, dlq: 1})
    return alerts, dlq


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    instance = SqliteStore(tmp_path / "audit.db", busy_timeout=0.2)
    instance.ensure_ready()
    yield instance
    instance.close()


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"condition not met within {timeout} s"
        time.sleep(0.05)


def store_errors(indexer: Indexer) -> float:
    return indexer.registry.get_sample_value("secchain_indexer_store_errors_total") or 0.0


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int | None]:
    consumer = new_consumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return {p: consumer.committed(TopicPartition(topic, p)) for p in range(partitions)}
    finally:
        consumer.close()


def test_valid_alerts_are_indexed_and_invalid_records_go_to_the_dlq_with_the_reason(
        broker: LocalBroker, topics: tuple[str, str], store: SqliteStore, unique_group: str) -> None:
    alerts_topic, dlq_topic = topics
    alerts = [make_alert(f"dept-{i % 2}", i) for i in range(40)]
    bad = [(b"dept-0", b"{oops"), (b"dept-1", json.dumps({"event": {"id": "nope"}}).encode()),
           (b"dept-9", json.dumps(make_alert("dept-1", 99)).encode())]
    kp = new_producer(bootstrap_servers=broker.bootstrap, acks="all")
    try:
        for alert in alerts[:20]:
            kp.send(alerts_topic, key=alert["tenant"]["id"].encode(), value=json.dumps(alert).encode())
        for key, value in bad:
            kp.send(alerts_topic, key=key, value=value)
        for alert in alerts[20:] + alerts[:5]:  # the last five are redeliveries
            kp.send(alerts_topic, key=alert["tenant"]["id"].encode(), value=json.dumps(alert).encode())
        kp.flush(10)
    finally:
        kp.close()

    indexer = Indexer(broker.bootstrap, store, group_id=unique_group, topic=alerts_topic, dlq_topic=dlq_topic,
                      batch_size=16)
    indexer.start()
    try:
        assert wait_for_total(store, 40) == 40
        dead = read_topic(broker.bootstrap, dlq_topic, 3)
        wait_until(lambda: indexer.stats()["consumed"] >= 48)
    finally:
        indexer.stop()
    assert stored_event_ids(store) == {a["event"]["id"]: 1 for a in alerts}
    stats = indexer.stats()
    assert stats["consumed"] == 48 and stats["indexed"] == 40 and stats["duplicates"] == 5 and stats["dlq"] == 3

    assert sorted((r.key, r.value) for r in dead) == sorted(bad)  # copied byte for byte
    reasons = {}
    for record in dead:
        headers = {k: v.decode() for k, v in record.headers}
        assert headers["secchain.source.topic"] == alerts_topic
        assert int(headers["secchain.source.offset"]) >= 0 and headers["secchain.source.partition"].isdigit()
        assert headers["secchain.error"]
        reasons[record.value] = headers["secchain.reason"]
    assert reasons == {b"{oops": "json", bad[1][1]: "schema", bad[2][1]: "key"}

    # Offsets were committed after the store took the batches: nothing is left to re-read.
    offsets = committed(broker.bootstrap, unique_group, alerts_topic, 3)
    assert sum(o or 0 for o in offsets.values()) == 48


def test_store_outage_keeps_the_batch_uncommitted_and_retries_it(
        broker: LocalBroker, topics: tuple[str, str], store: SqliteStore, unique_group: str, tmp_path: Path) -> None:
    alerts_topic, dlq_topic = topics
    alerts = [make_alert("dept-a", i) for i in range(30)]
    kp = new_producer(bootstrap_servers=broker.bootstrap, acks="all")
    indexer = Indexer(broker.bootstrap, store, group_id=unique_group, topic=alerts_topic, dlq_topic=dlq_topic,
                      retry_backoff=(0.05, 0.2))
    indexer.start()
    wait_until(lambda: indexer.ready()[0])
    # Another process holding the write lock is how a SQLite store is "down" for a writer.
    blocker = sqlite3.connect(tmp_path / "audit.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        for alert in alerts:
            kp.send(alerts_topic, key=b"dept-a", value=json.dumps(alert).encode())
        kp.flush(10)
        wait_until(lambda: store_errors(indexer) >= 3)
        ok, detail = indexer.ready()
        assert not ok and "store" in detail
        assert indexer.stats()["commits"] == 0
        assert set(committed(broker.bootstrap, unique_group, alerts_topic, 3).values()) <= {None, 0}
        blocker.execute("ROLLBACK")
        assert wait_for_total(store, 30) == 30
    finally:
        blocker.close()
        indexer.stop()
        kp.close()
    assert stored_event_ids(store) == {a["event"]["id"]: 1 for a in alerts}
    assert indexer.stats()["commits"] >= 1


def test_broker_replaced_by_an_empty_one_every_spooled_alert_is_indexed_once(
        fresh_broker: LocalBroker, store: SqliteStore, tmp_path: Path) -> None:
    producer = AlertProducer(fresh_broker.bootstrap, spool_dir=tmp_path / "spool", client_id="waf-test",
                             send_timeout=2.0, reconnect_backoff=(0.1, 0.5))
    indexer = Indexer(fresh_broker.bootstrap, store, retry_backoff=(0.1, 0.5))
    indexer.start()
    sent: list[str] = []

    def send(n: int) -> None:
        for _ in range(n):
            alert = make_alert(f"dept-{len(sent) % 3}", len(sent))
            sent.append(alert["event"]["id"])
            producer.send(alert)

    try:
        send(100)
        assert producer.flush(20)
        assert wait_for_total(store, 100) == 100
        fresh_broker.stop()
        send(200)  # the outage window: spilled to the spool
        assert producer.flush(0.5) is False
        restart_broker(fresh_broker)  # a new, empty broker: no topic data, no committed offsets
        send(100)
        assert producer.flush(30), producer.stats()
        assert wait_for_total(store, 400) == 400
    finally:
        producer.close()
        indexer.stop()
    assert producer.stats()["spooled"] >= 200
    assert stored_event_ids(store) == {event_id: 1 for event_id in sent}
