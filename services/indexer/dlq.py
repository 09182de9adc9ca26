"""Dead-letter publishing: the original record, unchanged, plus headers saying why and from where.

Kafka Connect's DLQ convention (``errors.deadletterqueue.context.headers.enable``) is followed in
spirit: the key and value are copied byte for byte so the record can be replayed once fixed, and
the context travels in headers, here under a ``secchain.`` prefix:

    secchain.reason            stable reason code (see decode.py)
    secchain.error             human-readable detail (truncated to 1 KiB)
    secchain.source.topic      where the record was read
    secchain.source.partition
    secchain.source.offset
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kafka.errors import KafkaError

from shared.bus.clients import new_producer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    reason: str
    detail: str
    topic: str
    partition: int
    offset: int

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("secchain.reason", self.reason.encode()),
            ("secchain.error", self.detail[:1024].encode("utf-8", "replace")),
            ("secchain.source.topic", self.topic.encode()),
            ("secchain.source.partition", str(self.partition).encode()),
            ("secchain.source.offset", str(self.offset).encode()),
        ]


class DlqPublisher:
    """Sends dead letters and waits for the broker's ack, so offsets are committed only after."""

    def __init__(self, bootstrap: str, topic: str, client_id: str, timeout: float = 10.0) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.client_id = client_id
        self.timeout = timeout
        self._producer: Any = None

    def publish(self, letters: list[DeadLetter]) -> None:
        """All acked, or ``KafkaError`` (the caller retries the same letters; the DLQ is at-least-once)."""
        if not letters:
            return
        if self._producer is None:
            timeout_ms = int(self.timeout * 1000)
            self._producer = new_producer(bootstrap_servers=self.bootstrap, client_id=self.client_id, acks="all",
                                          bootstrap_timeout_ms=3000, max_block_ms=3000,
                                          request_timeout_ms=timeout_ms // 2, delivery_timeout_ms=timeout_ms)
        try:
            futures = [self._producer.send(self.topic, key=letter.key, value=letter.value, headers=letter.headers())
                       for letter in letters]
            self._producer.flush(timeout=self.timeout + 2)
            for future in futures:
                future.get(timeout=0)
        except KafkaError:
            self.close()
            raise

    def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except KafkaError as exc:
                log.debug("closing DLQ producer: %s", exc)
