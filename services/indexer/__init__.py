"""The audit indexer service: Kafka ``secchain.alerts`` -> AuditStore (SQLite or OpenSearch)."""

from services.indexer.indexer import BatchOutcome, Indexer

__all__ = ["BatchOutcome", "Indexer"]
