"""Consumer-group helpers: the settings every secchain consumer shares, batch polling, exact commits.

* ``enable_auto_commit=False``: a consumer commits only what its sink has durably accepted (the
  indexer commits after the store took the batch), so a crash re-reads instead of losing.
* ``auto_offset_reset="earliest"``: a new group, or a group whose committed offset no longer exists
  (retention deleted it, or a memory-only dev broker restarted empty), starts from the oldest record
  rather than skipping to the end; duplicates collapse on ``event.id``, gaps would be silent loss.
* ``session_timeout_ms=6000, heartbeat_interval_ms=1500``: quick failover of a dead member. tansu
  also delays its JoinGroup answer by half the session timeout, so a long session makes groups form
  slowly in development; Apache Kafka accepts these values (group.min.session.timeout.ms = 6000).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import OffsetAndMetadata

from shared.bus.clients import new_consumer

GROUP_DEFAULTS: dict[str, Any] = {
    "session_timeout_ms": 6000,
    "heartbeat_interval_ms": 1500,
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
}


def make_consumer(bootstrap: str, group_id: str, topics: Sequence[str], *, client_id: str,
                  max_poll_records: int = 500, **overrides: Any) -> KafkaConsumer:
    """A subscribed group consumer with :data:`GROUP_DEFAULTS`; raises ``KafkaError`` if no broker answers."""
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "group_id": group_id,
        "client_id": client_id,
        "max_poll_records": max_poll_records,
        "bootstrap_timeout_ms": 1500,
        "request_timeout_ms": 10000,
        "reconnect_backoff_max_ms": 1000,
        **GROUP_DEFAULTS,
    }
    config.update(overrides)
    consumer = new_consumer(**config)
    consumer.subscribe(list(topics))
    return consumer


def poll_batch(consumer: KafkaConsumer, max_records: int, wait: float) -> list[ConsumerRecord]:
    """Up to ``max_records`` records, gathered for at most ``wait`` seconds after the first arrives.

    ``KafkaConsumer.poll`` returns as soon as any fetch completed; waiting a little longer fills
    bigger batches, and one bulk request per batch is what makes the store fast.
    """
    out: list[ConsumerRecord] = []
    deadline = time.monotonic() + wait
    while len(out) < max_records:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        chunk = consumer.poll(timeout_ms=max(1, int(left * 1000)), max_records=max_records - len(out))
        for records in chunk.values():
            out.extend(records)
        if not chunk and out:
            break
    return out


def next_offsets(records: Iterable[ConsumerRecord]) -> dict[TopicPartition, OffsetAndMetadata]:
    """Offsets to commit after ``records``: last offset + 1 per partition (Kafka's "next to read")."""
    highest: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        if record.offset >= highest.get(tp, -1):
            highest[tp] = record.offset
    return {tp: OffsetAndMetadata(offset + 1, "", -1) for tp, offset in highest.items()}
