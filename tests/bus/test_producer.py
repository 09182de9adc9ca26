"""AlertProducer against a real tansu broker: keys, non-blocking send, spool, replay order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from shared.bus import AlertProducer, ProducerClosedError, make_consumer, next_offsets, poll_batch
from shared.bus.producer import MAX_RECORD_BYTES
from shared.bus.topics import ALERTS_TOPIC
from shared.runtime.broker import LocalBroker, ensure_topics
from shared.runtime.ports import free_port
from tests.bus.kafka_read import make_alert, read_topic, rule_seqs
from tests.plugins.broker import restart_broker


def producer(bootstrap: str, spool: Path, topic: str = ALERTS_TOPIC, max_queued: int = 100_000,
             registry: CollectorRegistry | None = None) -> AlertProducer:
    """Short timeouts so outages are noticed within a test's patience."""
    return AlertProducer(bootstrap, topic=topic, spool_dir=spool, client_id="test-producer", max_queued=max_queued,
                         send_timeout=2.0, reconnect_backoff=(0.1, 0.5), registry=registry)


def test_round_trip_keyed_by_tenant_through_a_consumer_group(broker: LocalBroker, unique_topic: str,
                                                              unique_group: str, tmp_path: Path) -> None:
    alerts = [make_alert(f"tenant-{i % 3}", i) for i in range(60)]
    registry = CollectorRegistry()
    with producer(broker.bootstrap, tmp_path / "spool", unique_topic, registry=registry) as p:
        for alert in alerts:
            p.send(alert)
        assert p.flush(20), p.stats()
        assert p.stats()["sent"] == 60 and p.stats()["spooled"] == 0
        assert registry.get_sample_value("secchain_bus_producer_records_total", {"outcome": "sent"}) == 60
        assert registry.get_sample_value("secchain_bus_producer_connected") == 1

    consumer = make_consumer(broker.bootstrap, unique_group, [unique_topic], client_id="test")
    try:
        got = []
        for _ in range(100):
            got.extend(poll_batch(consumer, 500, 0.5))
            if len(got) >= 60:
                break
        assert len(got) == 60
        by_id = {a["event"]["id"]: a for a in alerts}
        for record in got:
            doc = json.loads(record.value)
            assert doc == by_id[doc["event"]["id"]]
            assert record.key == doc["tenant"]["id"].encode()
        # One tenant, one partition: its alerts arrive in the order they were sent.
        for t in range(3):
            assert rule_seqs(got, f"tenant-{t}") == list(range(t, 60, 3))
        offsets = next_offsets(got)
        consumer.commit(offsets)
        for tp, meta in offsets.items():
            assert consumer.committed(tp) == meta.offset
    finally:
        consumer.close()


@pytest.mark.timeout(30)  # 10k sends + close: generous bound on "never blocks"
def test_send_never_blocks_on_a_dead_broker_and_close_spools_everything(tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    p = producer(dead, tmp_path / "spool")
    for i in range(10_000):
        p.send(make_alert("t1", i))
    # Larger than Kafka accepts: it would block the spool's replay forever, so it is refused.
    p.send({**make_alert("t1", -1), "tags": ["x" * (MAX_RECORD_BYTES + 1)]})
    circular = make_alert("t1", -2)
    circular["self"] = circular  # cannot be serialised; must not take the sender thread down
    p.send(circular)
    assert p.flush(0.5) is False  # nowhere to deliver: flush says so instead of hanging
    p.close(timeout=1.0)
    stats = p.stats()
    assert stats["sent"] == 0 and stats["dropped"] == 2
    assert stats["spooled"] == 10_000 and stats["spool_pending"] == 10_000
    with pytest.raises(ProducerClosedError):
        p.send(make_alert("t1", 0))


def test_full_queue_counts_dropped_instead_of_growing(tmp_path: Path) -> None:
    p = producer(f"127.0.0.1:{free_port()}", tmp_path / "spool", max_queued=10)
    try:
        for i in range(5_000):
            p.send(make_alert("t1", i))
    finally:
        p.close(timeout=1.0)
    stats = p.stats()
    assert stats["dropped"] > 0
    assert stats["spooled"] + stats["dropped"] == 5_000


def test_spool_survives_restart_and_replays_in_order_before_new_records(tmp_path: Path) -> None:
    port = free_port()
    spool = tmp_path / "spool"
    first = producer(f"127.0.0.1:{port}", spool)
    for i in range(500):
        first.send(make_alert("t-order", i))
    first.close(timeout=1.0)
    assert first.stats()["spool_pending"] == 500

    with LocalBroker(port, log_path=tmp_path / "tansu.log") as b:
        ensure_topics(b.bootstrap)
        second = producer(b.bootstrap, spool)
        for i in range(500, 600):
            second.send(make_alert("t-order", i))
        assert second.flush(30), second.stats()
        stats = second.stats()
        second.close()
        # Records sent while the old spool was still replaying queue up behind it in the spool.
        assert stats["replayed"] >= 500 and stats["sent"] + stats["replayed"] == 600
        assert stats["spool_pending"] == 0
        records = read_topic(b.bootstrap, ALERTS_TOPIC, 600)
    assert rule_seqs(records, "t-order") == list(range(600))
    assert not list(spool.glob("*.seg"))


def test_broker_outage_spills_to_spool_and_replays_on_a_new_broker(fresh_broker: LocalBroker,
                                                                   tmp_path: Path) -> None:
    p = producer(fresh_broker.bootstrap, tmp_path / "spool")
    try:
        for i in range(100):
            p.send(make_alert("t-a", i))
        assert p.flush(20)
        fresh_broker.stop()
        for i in range(100, 300):
            p.send(make_alert("t-a", i))
        assert p.flush(0.5) is False
        restart_broker(fresh_broker)  # memory storage: the new broker starts empty
        for i in range(300, 400):
            p.send(make_alert("t-a", i))
        assert p.flush(30), p.stats()
        stats = p.stats()
    finally:
        p.close()
    assert stats["spooled"] >= 200 and stats["replayed"] == stats["spooled"]
    seqs = rule_seqs(read_topic(fresh_broker.bootstrap, ALERTS_TOPIC, 300), "t-a")
    # At least once and in order: everything sent during and after the outage, first occurrences
    # in send order (a record may repeat if the broker acked it just before it went away).
    firsts = list(dict.fromkeys(seqs))
    assert [s for s in firsts if s >= 100] == list(range(100, 400))
