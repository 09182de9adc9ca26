"""Alert producer: never blocks the request path, never loses an alert the broker cannot take yet.

``send()`` only puts the alert on an in-memory queue (a C ``SimpleQueue.put``: microseconds, no I/O)
so an aiohttp handler can call it inline. One background thread owns everything slow:

* the :class:`kafka.KafkaProducer` (``acks=all``; kafka-python turns idempotence on by default and
  switches it off itself for brokers older than 0.11, which is "idempotence if the broker supports
  it"). Its constructor blocks while it bootstraps and raises when no broker answers, so the
  thread starts in spool mode and keeps retrying with backoff;
* the :class:`~shared.bus.spool.DiskSpool`: while no producer exists, or while the spool still
  holds records, every new record is appended to the spool, so the spool is replayed oldest first
  and strictly before anything newer (per-key order holds across an outage);
* delivery: records go out in batches and the thread waits for every future (``flush``). Since
  ``delivery_timeout_ms`` is shorter than that wait, every future is resolved, success or failure,
  so nothing is in an unknown state. From the first failed record of a batch on, the rest of the
  batch goes to the spool, successes included: a record that reached the broker is then sent
  twice (duplicates collapse on ``event.id`` downstream) but no record overtakes an older one.

Delivery is at-least-once. What is lost: records still queued in memory when the process is
SIGKILLed (``close()`` drains them to the broker or the spool), and records refused because the
queue (``max_queued``) or the spool (``spool_max_bytes``) is full, or because one alert is larger
than Kafka accepts (``MAX_RECORD_BYTES``); all count as ``dropped``.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge

from shared.bus.clients import new_producer
from shared.bus.spool import DiskSpool, SpoolRecord
from shared.bus.topics import ALERTS_TOPIC

log = logging.getLogger(__name__)

_WAKE = object()

# Kafka refuses a record larger than max.request.size (1 MiB by default, kafka-python's and the
# broker's message.max.bytes alike). Such a record could never be delivered and, once spooled,
# would block the replay of everything behind it, so it is dropped (and counted) at the door.
# Alerts stay far below: Alert.to_dict() truncates matched.data, URLs and names.
MAX_RECORD_BYTES = 1_000_000


class ProducerClosedError(RuntimeError):
    """``send()`` after ``close()``: the alert would have nowhere to go."""


def alert_key(alert: dict[str, Any]) -> bytes | None:
    """Kafka key of an alert: ``tenant.id``, so one tenant's alerts stay ordered in one partition."""
    tenant = alert.get("tenant")
    if isinstance(tenant, dict) and tenant.get("id") is not None:
        return str(tenant["id"]).encode()
    return None


def encode_alert(alert: dict[str, Any]) -> SpoolRecord:
    # default=str keeps a stray datetime or UUID from killing the record; the indexer validates
    # the document against the schema and routes anything malformed to the DLQ with the reason.
    value = json.dumps(alert, separators=(",", ":"), ensure_ascii=False, default=str).encode()
    return alert_key(alert), value


class _Metrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.records: Counter | None = None
        if registry is None:
            return
        self.records = Counter("secchain_bus_producer_records", "Alert records by outcome "
                               "(sent: acked by the broker; spooled: written to the disk spool; replayed: "
                               "acked from the spool; dropped: queue or spool full)",
                               ["outcome"], registry=registry)
        self.queued = Gauge("secchain_bus_producer_queued", "Records waiting in memory", registry=registry)
        self.spool_pending = Gauge("secchain_bus_producer_spool_pending", "Records waiting in the disk spool",
                                   registry=registry)
        self.connected = Gauge("secchain_bus_producer_connected", "1 when a Kafka producer is connected",
                               registry=registry)

    def inc(self, outcome: str, n: int) -> None:
        if self.records is not None and n:
            self.records.labels(outcome).inc(n)


class AlertProducer:
    """Keyed, spooling alert producer; see the module docstring for the delivery contract."""

    def __init__(self, bootstrap: str, *, topic: str = ALERTS_TOPIC, spool_dir: Path | str, client_id: str,
                 linger_ms: int = 5, max_queued: int = 100_000, batch_records: int = 2000,
                 send_timeout: float = 10.0, reconnect_backoff: tuple[float, float] = (0.2, 5.0),
                 spool_max_bytes: int = 256 << 20, spool_segment_bytes: int = 4 << 20, spool_fsync: bool = True,
                 registry: CollectorRegistry | None = None, kafka_config: dict[str, Any] | None = None) -> None:
        if send_timeout < 1.0:
            raise ValueError(f"send_timeout must be at least 1 s (it bounds Kafka's delivery timeout), "
                             f"got {send_timeout}")
        self.bootstrap = bootstrap
        self.topic = topic
        self.client_id = client_id
        self._linger_ms = linger_ms
        self._max_queued = max_queued
        self._batch_records = batch_records
        self._send_timeout = send_timeout
        self._backoff_min, self._backoff_max = reconnect_backoff
        self._kafka_config = dict(kafka_config or {})
        self._spool = DiskSpool(spool_dir, segment_bytes=spool_segment_bytes, max_bytes=spool_max_bytes,
                                fsync=spool_fsync)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._counts = {"sent": 0, "spooled": 0, "replayed": 0, "dropped": 0}
        self._inflight = 0
        self._closing = False
        self._close_deadline = float("inf")
        self._closed = False
        self._thread_done = False
        self._markers: list[threading.Event] = []
        self._kp: KafkaProducer | None = None
        self._last_error = ""
        self._metrics = _Metrics(registry)
        if registry is not None:
            self._metrics.queued.set_function(self._queue.qsize)
            self._metrics.spool_pending.set_function(lambda: self._spool.pending)
            self._metrics.connected.set_function(lambda: 1 if self._kp is not None else 0)
        self._thread = threading.Thread(target=self._run, name=f"alert-producer-{client_id}", daemon=True)
        self._thread.start()

    # -- caller side (any thread, including an event loop) ------------------------------------------------
    def send(self, alert: dict[str, Any]) -> None:
        """Queue one alert (the dict from ``Alert.to_dict()``); returns immediately, never raises on I/O."""
        if self._closing:
            raise ProducerClosedError(f"producer {self.client_id} is closed; alert {alert_key(alert)!r} not sent")
        if self._queue.qsize() >= self._max_queued:
            self._count("dropped", 1)
            return
        self._queue.put(alert)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything sent so far is acked by the broker (spool included). False on timeout:
        the records are still queued or spooled, not lost."""
        if self._thread_done:
            return self._queue.empty() and self._spool.pending == 0
        deadline = time.monotonic() + timeout
        # A marker behind the caller's records: once the sender thread has finished the batch the
        # marker ended up in, everything before it is delivered or spooled.
        marker = threading.Event()
        self._queue.put(marker)
        if not marker.wait(timeout):
            return False
        with self._idle:
            while self._spool.pending:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread_done:
                    return False
                self._idle.wait(min(left, 0.1))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Stop accepting alerts, deliver what is queued (or spool it), and stop the thread."""
        if self._closed:
            return
        self._close_deadline = time.monotonic() + timeout
        self._closing = True
        self._queue.put(_WAKE)
        # The thread spools whatever is left at the deadline; give it time to do so.
        self._thread.join(timeout + self._send_timeout + 5.0)
        if self._thread.is_alive():
            log.error("producer %s: sender thread still busy after close(%.1f); %d records queued", self.client_id,
                      timeout, self._queue.qsize())
        self._closed = True

    def stats(self) -> dict[str, int]:
        with self._lock:
            out = dict(self._counts)
        out["queued"] = self._queue.qsize() + self._inflight
        out["spool_pending"] = self._spool.pending
        out["spool_overflow"] = self._spool.overflow
        out["connected"] = int(self._kp is not None)
        return out

    @property
    def last_error(self) -> str:
        return self._last_error

    def __enter__(self) -> AlertProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sender thread ----------------------------------------------------------------------------------------
    def _count(self, outcome: str, n: int) -> None:
        if not n:
            return
        with self._lock:
            self._counts[outcome] += n
        self._metrics.inc(outcome, n)

    def _take(self, wait: float) -> list[SpoolRecord]:
        out: list[SpoolRecord] = []
        try:
            item = self._queue.get(timeout=wait)
        except queue.Empty:
            return out
        while True:
            if isinstance(item, threading.Event):
                self._markers.append(item)
            elif item is not _WAKE:
                record = self._encode(item)
                if record is not None:
                    out.append(record)
                if len(out) >= self._batch_records:
                    break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
        with self._lock:
            self._inflight = len(out)
        return out

    def _encode(self, alert: Any) -> SpoolRecord | None:
        """The wire record, or None (counted as dropped) when it can never be delivered."""
        try:
            record = encode_alert(alert)
        except (TypeError, ValueError, AttributeError) as exc:  # not a dict, circular reference
            self._count("dropped", 1)
            log.error("producer %s: alert cannot be serialised (%s); dropped", self.client_id, exc)
            return None
        if len(record[1]) > MAX_RECORD_BYTES:
            self._count("dropped", 1)
            log.error("producer %s: alert of %d bytes exceeds the %d-byte Kafka record limit; dropped",
                      self.client_id, len(record[1]), MAX_RECORD_BYTES)
            return None
        return record

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:  # noqa: BLE001 - must not die silently with alerts queued behind it
            log.exception("producer %s: sender thread failed; spooling what is queued and refusing new alerts",
                          self.client_id)
            self._closing = True  # send() now raises instead of queueing into a void
            self._spool_rest()
        finally:
            if self._kp is not None:
                try:
                    self._kp.close(timeout=max(0.0, min(5.0, self._close_deadline - time.monotonic())))
                except KafkaError as exc:
                    log.warning("producer %s: closing the Kafka client: %s", self.client_id, exc)
                self._kp = None
            self._thread_done = True
            self._batch_done()

    def _loop(self) -> None:
        backoff = self._backoff_min
        next_connect = 0.0
        while True:
            closing = self._closing
            if closing and time.monotonic() >= self._close_deadline:
                self._spool_rest()
                break
            if self._kp is None and time.monotonic() >= next_connect:
                if self._connect():
                    backoff = self._backoff_min
                else:
                    next_connect = time.monotonic() + backoff
                    backoff = min(backoff * 2, self._backoff_max)
            wait = 0.0 if (closing or (self._kp is not None and self._spool.pending)) else 0.05
            batch = self._take(wait)
            if batch:
                if self._kp is None or self._spool.pending:
                    self._to_spool(batch)
                else:
                    ok = self._deliver(batch)
                    self._count("sent", ok)
                    if ok < len(batch):
                        self._to_spool(batch[ok:])
                        self._disconnect()
            if self._kp is not None and self._spool.pending:
                records = self._spool.peek(self._batch_records)
                ok = self._deliver(records)
                self._spool.commit(ok)
                self._count("replayed", ok)
                if ok < len(records):
                    self._disconnect()
            self._batch_done()
            if closing and self._queue.empty() and (self._spool.pending == 0 or self._kp is None):
                break

    def _batch_done(self) -> None:
        with self._idle:
            self._inflight = 0
            self._idle.notify_all()
        for marker in self._markers:
            marker.set()
        self._markers.clear()

    def _spool_rest(self) -> None:
        while True:
            batch = self._take(0.0)
            if not batch:
                break
            self._to_spool(batch)
            self._batch_done()

    def _to_spool(self, records: list[SpoolRecord]) -> None:
        try:
            written = self._spool.append(records)
        except OSError as exc:  # disk full, spool directory removed: count the loss, keep running
            written = 0
            log.error("producer %s: cannot write to spool %s: %s", self.client_id, self._spool.directory, exc)
        self._count("spooled", written)
        self._count("dropped", len(records) - written)
        if written < len(records):
            log.error("producer %s: spool %s is full (%d bytes); %d alerts dropped", self.client_id,
                      self._spool.directory, self._spool.size_bytes, len(records) - written)

    def _connect(self) -> bool:
        timeout_ms = int(self._send_timeout * 1000)
        config: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "client_id": self.client_id,
            "acks": "all",
            "linger_ms": self._linger_ms,
            "bootstrap_timeout_ms": 2000,
            # send() waits up to max_block_ms for topic metadata; keep it short so an outage is
            # noticed quickly and records move to the spool instead of piling up in memory.
            "max_block_ms": 2000,
            "request_timeout_ms": max(500, timeout_ms // 2),
            "delivery_timeout_ms": timeout_ms,
            "reconnect_backoff_max_ms": 1000,
        }
        config.update(self._kafka_config)
        try:
            self._kp = new_producer(**config)
        except KafkaError as exc:
            self._note_error(f"cannot connect to {self.bootstrap}: {exc}")
            return False
        log.info("producer %s connected to %s (%d spooled records to replay)", self.client_id, self.bootstrap,
                 self._spool.pending)
        return True

    def _disconnect(self) -> None:
        """Drop a producer whose deliveries failed; a fresh one resets idempotence state after an outage."""
        kp, self._kp = self._kp, None
        if kp is not None:
            try:
                kp.close(timeout=0)
            except KafkaError as exc:
                log.debug("producer %s: close after failure: %s", self.client_id, exc)

    def _deliver(self, records: list[SpoolRecord]) -> int:
        """Send ``records`` in order; returns the length of the acknowledged prefix."""
        assert self._kp is not None
        futures = []
        try:
            for key, value in records:
                futures.append(self._kp.send(self.topic, key=key, value=value))
        except KafkaError as exc:
            self._note_error(f"send to {self.topic} failed: {exc}")
        try:
            # Futures expire after delivery_timeout_ms (< this wait), so all are resolved after it.
            self._kp.flush(timeout=self._send_timeout + 2.0)
        except KafkaError as exc:
            self._note_error(f"flush to {self.topic} failed: {exc}")
        ok = 0
        for future in futures:
            if not future.is_done or future.failed():
                if future.is_done:
                    self._note_error(f"delivery to {self.topic} failed: {future.exception}")
                break
            ok += 1
        return ok

    def _note_error(self, message: str) -> None:
        if message != self._last_error:
            log.warning("producer %s: %s", self.client_id, message)
        self._last_error = message

