"""kafka-python client constructors that do not leak sockets when the broker is down.

``KafkaProducer``, ``KafkaConsumer`` and ``KafkaAdminClient`` (kafka-python 3.0.12) build their
network client, then bootstrap inside ``__init__``; when no broker answers, ``__init__`` raises and
the half-built client's sockets (the TCP attempt and the selector's wake-up socket pair) are left
for the garbage collector. A producer retrying every few seconds during an outage would leak a few
descriptors per attempt. These wrappers hand kafka-python a factory (its documented
``kafka_client`` option) that remembers the client, and close it when construction fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import shared.bus._kafka_compat  # noqa: F401
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.net.compat import KafkaNetClient

T = TypeVar("T")


def _build(cls: Callable[..., T], config: dict[str, Any]) -> T:
    made: list[KafkaNetClient] = []

    def factory(**kwargs: Any) -> KafkaNetClient:
        client = KafkaNetClient(**kwargs)
        made.append(client)
        return client

    try:
        return cls(kafka_client=factory, **config)
    except BaseException:
        for client in made:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - best effort on an already failed client
                pass
        raise


def new_producer(**config: Any) -> KafkaProducer:
    return _build(KafkaProducer, config)


def new_consumer(**config: Any) -> KafkaConsumer:
    return _build(KafkaConsumer, config)


def new_admin(**config: Any) -> KafkaAdminClient:
    return _build(KafkaAdminClient, config)
