"""The audit indexer: Kafka ``secchain.alerts`` -> AuditStore, committing only what the store has.

One batch at a time, on one thread (kafka-python consumers are not thread-safe, and the store API
is synchronous):

1. poll up to ``batch_size`` records (waiting at most ``batch_wait`` to fill the batch);
2. decode and validate each; undecodable or invalid ones become dead letters;
3. ``store.bulk_index`` the valid ones, retrying the *same* batch with backoff while the store is
   unavailable (nothing is committed meanwhile, so a crash during the outage loses nothing);
   documents the store rejects for good become dead letters too;
4. publish the dead letters and wait for the broker's ack;
5. commit the offsets after the batch (Kafka's "next offset to read").

A crash anywhere before 5 re-reads the batch at the next start; the store is idempotent on
``event.id`` so the re-read shows up as duplicates, never as loss or double alerts.

The consumer is re-created when it cannot be trusted any more: on a ``KafkaError`` out of poll or
commit, and when the alerts topic's id changes (KIP-516 topic ids: the topic was deleted and
re-created, which is also what a restarted memory-only broker looks like). A new consumer rejoins
the group and starts from the committed offsets, or from the earliest record when there are none
(``auto_offset_reset=earliest``), whereas the old one would keep fetching from positions in a log
that no longer exists and could skip the first records of the new one.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from services.indexer.decode import REASON_STORE, Rejected, decode_alert
from services.indexer.dlq import DeadLetter, DlqPublisher
from services.indexer.metrics import IndexerMetrics
from shared.bus import make_consumer, next_offsets, poll_batch
from shared.bus.topics import ALERTS_TOPIC, DLQ_TOPIC
from shared.stores import AuditStore

log = logging.getLogger(__name__)


@dataclass(slots=True)
class BatchOutcome:
    consumed: int = 0
    indexed: int = 0
    duplicates: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    committed: bool = False


class Indexer:
    """Consumes alerts into ``store``; ``start()`` runs it on a thread, ``stop()`` ends it cleanly."""

    def __init__(self, bootstrap: str, store: AuditStore, *, group_id: str = "secchain-indexer",
                 batch_size: int = 500, batch_wait: float = 0.2, topic: str = ALERTS_TOPIC,
                 dlq_topic: str = DLQ_TOPIC, client_id: str = "secchain-indexer",
                 registry: CollectorRegistry | None = None, retry_backoff: tuple[float, float] = (0.1, 5.0)) -> None:
        if batch_size < 1 or batch_wait < 0:
            raise ValueError(f"batch_size must be >= 1 and batch_wait >= 0 (got {batch_size}, {batch_wait})")
        self.bootstrap = bootstrap
        self.store = store
        self.group_id = group_id
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.topic = topic
        self.client_id = client_id
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = IndexerMetrics(self.registry)
        self._backoff_min, self._backoff_max = retry_backoff
        self._dlq = DlqPublisher(bootstrap, dlq_topic, f"{client_id}-dlq")
        self._consumer: Any = None
        self._topic_id: uuid.UUID | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._totals = {"consumed": 0, "indexed": 0, "duplicates": 0, "dlq": 0, "commits": 0, "batches": 0,
                        "consumer_restarts": 0}
        self._state = "starting"
        self._last_error = ""

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("indexer already started")
        self._thread = threading.Thread(target=self.run, name=f"indexer-{self.group_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Finish (or abandon, uncommitted) the batch in hand, then leave the group and close."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("indexer thread did not stop within %.0f s", timeout)

    def run(self) -> None:
        """The consume loop; returns when :meth:`stop` is called."""
        backoff = self._backoff_min
        try:
            if not self._prepare_store():
                return
            while not self._stop.is_set():
                if self._consumer is None and not self._open_consumer():
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self._backoff_max)
                    continue
                backoff = self._backoff_min
                try:
                    self.process_batch()
                except KafkaError as exc:
                    self._error(f"Kafka: {exc}; re-creating the consumer")
                    self._close_consumer()
                    self._stop.wait(self._backoff_min)
                except Exception:  # noqa: BLE001 - a client bug must not kill the only consume thread
                    log.exception("indexer %s: unexpected error; re-creating the consumer", self.group_id)
                    self._last_error = "unexpected error (see log)"
                    self._close_consumer()
                    self._stop.wait(self._backoff_max)
        finally:
            self._close_consumer()
            self._dlq.close()
            self._state = "stopped"

    def _prepare_store(self) -> bool:
        """``store.ensure_ready()`` (schema, index template) with retries: the store may start later."""
        backoff = self._backoff_min
        while True:
            try:
                self.store.ensure_ready()
                return True
            except Exception as exc:  # noqa: BLE001 - unreachable store at start: wait for it
                self._state = "store unavailable"
                self._error(f"store not ready: {type(exc).__name__}: {exc}")
            if self._stop.wait(backoff):
                return False
            backoff = min(backoff * 2, self._backoff_max)

    # -- one batch ----------------------------------------------------------------------------------------
    def process_batch(self) -> BatchOutcome:
        """Poll, index, dead-letter and commit one batch (the consumer must be open)."""
        outcome = BatchOutcome()
        records = poll_batch(self._consumer, self.batch_size, self.batch_wait)
        self._check_topic_identity()
        if not records:
            self._state = "running"
            return outcome
        started = time.monotonic()
        outcome.consumed = len(records)
        self.metrics.consumed.inc(len(records))
        docs: list[dict[str, Any]] = []
        by_event: dict[str, Any] = {}
        for record in records:
            decoded = decode_alert(record.key, record.value)
            if isinstance(decoded, Rejected):
                outcome.dead_letters.append(self._letter(record, decoded.reason, decoded.detail))
            else:
                docs.append(decoded)
                by_event[decoded["event"]["id"]] = record
        if docs:
            result = self._index(docs)
            if result is None:
                return outcome  # stopping during a store outage: nothing committed, re-read later
            outcome.indexed, outcome.duplicates = result.indexed, result.duplicates
            for event_id, reason in result.failed:
                record = by_event.get(event_id)
                if record is not None:
                    outcome.dead_letters.append(self._letter(record, REASON_STORE, reason))
                else:
                    log.error("store rejected a document without a known event.id: %s", reason)
        if outcome.dead_letters and not self._publish_dead_letters(outcome.dead_letters):
            return outcome
        outcome.committed = self._commit(records)
        self.metrics.indexed.inc(outcome.indexed)
        self.metrics.duplicates.inc(outcome.duplicates)
        for letter in outcome.dead_letters:
            self.metrics.dlq.labels(letter.reason).inc()
        self.metrics.batch_seconds.observe(time.monotonic() - started)
        self._update_lag(records)
        with self._lock:
            self._totals["consumed"] += outcome.consumed
            self._totals["indexed"] += outcome.indexed
            self._totals["duplicates"] += outcome.duplicates
            self._totals["dlq"] += len(outcome.dead_letters)
            self._totals["batches"] += 1
            self._totals["commits"] += int(outcome.committed)
        self._state = "running"
        return outcome

    def _index(self, docs: list[dict[str, Any]]) -> Any:
        """``store.bulk_index`` until it succeeds; None if asked to stop first."""
        backoff = self._backoff_min
        while True:
            try:
                return self.store.bulk_index(docs)
            except Exception as exc:  # noqa: BLE001 - any store failure: keep the batch, retry
                self.metrics.store_errors.inc()
                self._state = "store unavailable"
                self._error(f"store: {type(exc).__name__}: {exc}; retrying the batch of {len(docs)} in {backoff:.1f} s")
            if self._stop.wait(backoff):
                return None
            backoff = min(backoff * 2, self._backoff_max)

    def _publish_dead_letters(self, letters: list[DeadLetter]) -> bool:
        backoff = self._backoff_min
        while True:
            try:
                self._dlq.publish(letters)
                return True
            except KafkaError as exc:
                self._error(f"DLQ publish of {len(letters)} records failed: {exc}; retrying in {backoff:.1f} s")
            if self._stop.wait(backoff):
                return False
            backoff = min(backoff * 2, self._backoff_max)

    def _commit(self, records: list[Any]) -> bool:
        if self._consumer is None:  # dropped after this poll (topic re-created): re-read, not commit
            return False
        try:
            self._consumer.commit(next_offsets(records))
        except KafkaError as exc:
            # A rebalance or a lost coordinator: the batch is in the store, so re-reading it only
            # produces duplicates. Re-create the consumer so it picks up the new assignment.
            self.metrics.commits.labels("failed").inc()
            self._error(f"offset commit failed ({exc}); the batch will be re-read and counted as duplicates")
            self._close_consumer()
            return False
        self.metrics.commits.labels("ok").inc()
        return True

    @staticmethod
    def _letter(record: Any, reason: str, detail: str) -> DeadLetter:
        return DeadLetter(record.key, record.value, reason, detail, record.topic, record.partition, record.offset)

    # -- consumer management --------------------------------------------------------------------------------
    def _open_consumer(self) -> bool:
        try:
            self._consumer = make_consumer(self.bootstrap, self.group_id, [self.topic], client_id=self.client_id,
                                           max_poll_records=self.batch_size)
        except KafkaError as exc:
            self._state = "broker unavailable"
            self._error(f"cannot connect to Kafka at {self.bootstrap}: {exc}")
            return False
        self._topic_id = None
        self._state = "joining"
        return True

    def _close_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        self.metrics.consumer_restarts.inc()
        with self._lock:
            self._totals["consumer_restarts"] += 1
        try:
            consumer.close(autocommit=False)
        except KafkaError as exc:
            log.debug("closing consumer: %s", exc)

    def _check_topic_identity(self) -> None:
        # kafka-python keeps the topic ids of its metadata responses (Metadata v10+); a change
        # means the topic this consumer holds positions for is not the one the broker now has.
        topic_id = self._consumer._client.cluster.topic_id(self.topic)
        if topic_id is None:
            return
        if self._topic_id is None:
            self._topic_id = topic_id
        elif topic_id != self._topic_id:
            self._error(f"topic {self.topic} was re-created (id {self._topic_id} -> {topic_id}); "
                        "re-joining to start from committed offsets")
            self._close_consumer()

    def _update_lag(self, records: list[Any]) -> None:
        """Lag of the partitions in this batch: high watermark (from the last fetch) - next offset."""
        consumer = self._consumer
        if consumer is None:
            return
        lag = 0
        for tp, meta in next_offsets(records).items():
            high = consumer.highwater(tp)
            if high is not None:
                lag += max(0, high - meta.offset)
        self.metrics.lag.set(lag)

    # -- status ------------------------------------------------------------------------------------------------
    def _error(self, message: str) -> None:
        if message != self._last_error:
            log.warning("indexer %s: %s", self.group_id, message)
        self._last_error = message

    def ready(self) -> tuple[bool, str]:
        """For /readyz: consuming, and the store took the last batch."""
        state = self._state
        ok = state in ("running", "joining") and self._consumer is not None
        return ok, state if ok or not self._last_error else f"{state}: {self._last_error}"

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._totals)
