"""The Kafka bus: alert producer with a disk spool, consumer-group helpers."""

import shared.bus._kafka_compat  # noqa: F401  (first: kafka-python import fixes)

from shared.bus.consumer import GROUP_DEFAULTS, make_consumer, next_offsets, poll_batch
from shared.bus.producer import AlertProducer, ProducerClosedError, alert_key, encode_alert
from shared.bus.spool import DiskSpool, SpoolError
from shared.bus.topics import ALERTS_TOPIC, DEFAULT_PARTITIONS, DLQ_TOPIC

__all__ = [
    "ALERTS_TOPIC",
    "DEFAULT_PARTITIONS",
    "DLQ_TOPIC",
    "GROUP_DEFAULTS",
    "AlertProducer",
    "DiskSpool",
    "ProducerClosedError",
    "SpoolError",
    "alert_key",
    "encode_alert",
    "make_consumer",
    "next_offsets",
    "poll_batch",
]
