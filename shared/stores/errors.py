"""Errors raised by the audit stores.

Like aiohttp's exception tree, each class also inherits the stdlib error a caller would naturally
catch: a bad query parameter is a ``ValueError`` (the API answers 400), an unreachable store is a
``ConnectionError`` (the indexer keeps its Kafka offsets and retries later, the API answers 503).
"""

from __future__ import annotations


class StoreError(Exception):
    """The store refused or failed an operation for a reason retrying will not fix."""


class StoreUnavailable(StoreError, ConnectionError):
    """The store cannot be reached or is overloaded (connection refused, 429, 5xx, locked database).

    Callers treat this as transient: the indexer must not commit Kafka offsets for the batch.
    """


class QueryParamError(ValueError):
    """A search parameter is invalid; ``param`` is its HTTP name (``from``, ``size``, ``q``...)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"invalid query parameter {param!r}: {message}")
        self.param = param
        self.reason = message
