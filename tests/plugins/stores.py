"""Fixtures: audit stores (SQLite file, OpenSearch protocol via osmem-server).

``sqlite_store``: a SqliteStore on a file in the test's tmp_path, schema created.
``opensearch_store``: an OpenSearchStore on a fresh osmem clone (copy-on-write, milliseconds),
index template installed.
``audit_store``: parametrized over both, so a contract test runs against every backend.
``audit_store_url``: the ``open_store`` URL of ``audit_store``, for a process started by the test
(indexer, API) to open the same store.
``make_alert(**fields)``: a schema-valid alert document (``shared.events.Alert`` keyword names).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from osmem_server import OsmemServer

from shared.events import Alert, validate_alert
from shared.stores.opensearch import OpenSearchStore
from shared.stores.sqlite import SqliteStore

BACKENDS = ("sqlite", "opensearch")


def make_alert(**fields: Any) -> dict[str, Any]:
    """An alert dict as the producers emit it, validated against alert.schema.json."""
    base: dict[str, Any] = {"module": "waf", "action": "blocked", "tenant_id": "demo", "rule_id": "942100",
                            "observer_name": "test-1", "rule_name": "SQL Injection Attack Detected"}
    base.update(fields)
    return validate_alert(Alert(**base).to_dict())


@pytest.fixture(scope="session")
def osmem_server() -> Iterator[OsmemServer]:
    """One osmem-server per session. Overrides osmem's own fixture to skip Japanese analysis
    (alerts need none; it costs start-up time) and to close the stdout pipe its ``close()``
    leaves open, which pytest (filterwarnings=error) would report as a ResourceWarning."""
    server = OsmemServer.start(japanese=False)
    try:
        yield server
    finally:
        server.close()
        if server.process.stdout is not None:
            server.process.stdout.close()
        if server.process.stdin is not None:
            with contextlib.suppress(OSError):
                server.process.stdin.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "audit.db")
    store.ensure_ready()
    yield store
    store.close()


@pytest.fixture
def opensearch_store(osmem_clone: Any) -> Iterator[OpenSearchStore]:
    store = OpenSearchStore(osmem_clone.url, retries=2, backoff=0.05)
    store.ensure_ready()
    yield store
    store.close()


@pytest.fixture(params=BACKENDS)
def audit_store(request: pytest.FixtureRequest) -> SqliteStore | OpenSearchStore:
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def audit_store_url(audit_store: SqliteStore | OpenSearchStore) -> str:
    if isinstance(audit_store, SqliteStore):
        return f"sqlite://{Path(audit_store.path).resolve()}"
    return f"opensearch+{audit_store.url}"
