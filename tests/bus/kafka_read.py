"""Test helpers: read a topic back from the broker, and build valid alerts."""

from __future__ import annotations

import json
import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from shared.events import Alert


def make_alert(tenant: str, seq: int, **extra: Any) -> dict[str, Any]:
    """A schema-valid alert whose ``rule.id`` carries ``seq`` so tests can check order."""
    return Alert(module="waf", action="blocked", tenant_id=tenant, rule_id=str(seq), observer_name="test",
                 **extra).to_dict()


def read_topic(bootstrap: str, topic: str, expect: int, timeout: float = 30.0) -> list[ConsumerRecord]:
    """Every record of ``topic`` from the beginning, once ``expect`` have arrived (or at ``timeout``).

    Uses manual assignment, not a group, so there is no join/rebalance wait and no committed state.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                             auto_offset_reset="earliest")
    try:
        deadline = time.monotonic() + timeout
        parts: set[int] | None = None
        while parts is None and time.monotonic() < deadline:
            parts = consumer.partitions_for_topic(topic)
            if parts is None:
                time.sleep(0.1)
        assert parts, f"topic {topic} does not exist on {bootstrap}"
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out: list[ConsumerRecord] = []
        while len(out) < expect and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                out.extend(records)
        return out
    finally:
        consumer.close()


def rule_seqs(records: list[ConsumerRecord], tenant: str) -> list[int]:
    """``rule.id`` of the records keyed ``tenant``, in log order (one key = one partition)."""
    return [int(json.loads(r.value)["rule"]["id"]) for r in records if r.key == tenant.encode()]
