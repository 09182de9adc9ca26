"""Prometheus metrics of the indexer (one registry per Indexer, see shared/observability.py)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class IndexerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.consumed = Counter("secchain_indexer_records_consumed", "Records read from the alerts topic",
                                registry=registry)
        self.indexed = Counter("secchain_indexer_records_indexed", "Alerts newly written to the store",
                               registry=registry)
        self.duplicates = Counter("secchain_indexer_records_duplicate",
                                  "Alerts the store already had (redelivery or spool replay; same event.id)",
                                  registry=registry)
        self.dlq = Counter("secchain_indexer_records_dlq", "Records sent to the dead-letter topic, by reason",
                           ["reason"], registry=registry)
        self.store_errors = Counter("secchain_indexer_store_errors", "Failed bulk requests (batch retried)",
                                    registry=registry)
        self.commits = Counter("secchain_indexer_commits", "Offset commits, by outcome", ["outcome"],
                               registry=registry)
        self.consumer_restarts = Counter("secchain_indexer_consumer_restarts",
                                         "Kafka consumers re-created (broker lost, topic re-created)",
                                         registry=registry)
        self.batch_seconds = Histogram("secchain_indexer_batch_seconds",
                                       "Time from poll to commit of one batch, store retries included",
                                       buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
                                       registry=registry)
        self.lag = Gauge("secchain_indexer_lag", "Records behind the partition high watermark (last fetch)",
                         registry=registry)
