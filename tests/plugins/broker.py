"""Fixtures: a real Kafka-protocol broker (tansu) on loopback.

``broker``: one tansu for the whole session with the pipeline topics created; tests that share it
use :func:`unique_name` for their own topics and groups so they never see each other's records.
``fresh_broker``: a broker of the test's own, which the test may stop and restart
(``restart_broker``: a NEW tansu on the same port, i.e. empty, as after a crash of a memory broker).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.bus.topics import DEFAULT_PARTITIONS
from shared.runtime.broker import LocalBroker, ensure_topics
from shared.runtime.ports import free_port

_names = itertools.count(1)


def unique_name(prefix: str) -> str:
    """A topic or group name no other test in this session uses."""
    return f"{prefix}-{os.getpid()}-{next(_names)}"


def restart_broker(broker: LocalBroker, topics: dict[str, int] | None = None) -> None:
    """Stop ``broker`` and start a new, empty one on the same port, with ``topics`` created."""
    broker.stop()
    broker.start()
    ensure_topics(broker.bootstrap, DEFAULT_PARTITIONS if topics is None else topics)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    logs = tmp_path_factory.mktemp("broker")
    instance = LocalBroker(free_port(), log_path=logs / "tansu.log")
    instance.start()
    try:
        ensure_topics(instance.bootstrap, DEFAULT_PARTITIONS)
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def fresh_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    instance = LocalBroker(free_port(), log_path=tmp_path / "tansu.log")
    instance.start()
    try:
        ensure_topics(instance.bootstrap, DEFAULT_PARTITIONS)
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def unique_topic(broker: LocalBroker) -> str:
    """A new 3-partition topic on the session broker."""
    name = unique_name("t")
    ensure_topics(broker.bootstrap, {name: 3})
    return name


@pytest.fixture
def unique_group() -> str:
    return unique_name("g")
