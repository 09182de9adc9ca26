"""The SQLite control repository: ordered migrations, versions, transactional validation."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from shared.control import (Actor, ChangeQuery, Conflict, ControlError, PreconditionFailed, Ref, SqliteControlRepository,
                            ValidationFailed, open_control_repository)
from shared.control.migrations import MIGRATIONS
from shared.control.model import canonical_spec, check_configuration

OP = Actor("op", "provider-admin")


def _site(repo: SqliteControlRepository, name: str, host: str) -> None:
    ref = Ref("site", "a", "v", name)
    repo.create(ref, canonical_spec("site", ref, {"name": name, "hosts": [host], "upstream": "http://h"}, {}), OP,
                check_configuration)


@pytest.fixture
def repo(tmp_path: Path):
    r = open_control_repository(f"sqlite:///{tmp_path / 'c.db'}")
    r.create(Ref("tenant", "a"), {"name": "a"}, OP, check_configuration)
    r.create(Ref("vpc", "a", "v"), canonical_spec("vpc", Ref("vpc", "a", "v"), {"id": "v"}), OP, check_configuration)
    yield r
    r.close()


def test_migrations_run_once_in_order_and_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    repo = SqliteControlRepository(path)
    assert repo.migrate() == MIGRATIONS[-1].version
    assert repo.migrate() == MIGRATIONS[-1].version, "idempotent"
    repo.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
        assert [v for v, _ in rows] == [m.version for m in MIGRATIONS]
        db.execute("INSERT INTO schema_migrations VALUES (99, 'from the future', 'x')")
    with pytest.raises(ControlError, match="schema version 99 is newer"):
        SqliteControlRepository(path).migrate()


def test_every_change_bumps_the_version_and_a_rejected_one_leaves_nothing(repo: SqliteControlRepository) -> None:
    v0 = repo.version()
    _site(repo, "one", "one.example")
    assert repo.version() == v0 + 1
    with pytest.raises(ValidationFailed, match="already used by site 'one'"):
        _site(repo, "two", "one.example")
    assert repo.version() == v0 + 1 and repo.get(Ref("site", "a", "v", "two")) is None
    page = repo.changes(ChangeQuery(kind="site"))
    assert [c["path"] for c in page.changes] == ["/v1/tenants/a/vpcs/v/sites/one"]


def test_concurrent_replaces_of_one_revision_serialise(repo: SqliteControlRepository) -> None:
    _site(repo, "one", "one.example")
    ref = Ref("site", "a", "v", "one")
    base = repo.get(ref)
    assert base is not None
    outcomes: list[str] = []

    def writer(i: int) -> None:
        spec = {**base.spec, "max_body_bytes": i}
        try:
            repo.replace(ref, spec, base.revision, OP, check_configuration)
            outcomes.append("ok")
        except PreconditionFailed:
            outcomes.append("412")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["412"] * 9 + ["ok"]
    assert repo.get(ref).revision == base.revision + 1


def test_site_names_are_unique_per_tenant(repo: SqliteControlRepository) -> None:
    _site(repo, "one", "one.example")
    repo.create(Ref("vpc", "a", "w"), canonical_spec("vpc", Ref("vpc", "a", "w"), {"id": "w"}), OP, check_configuration)
    ref = Ref("site", "a", "w", "one")
    with pytest.raises(Conflict, match="names are unique per tenant"):
        repo.create(ref, canonical_spec("site", ref, {"name": "one", "hosts": ["x.example"], "upstream": "http://h"}, {}),
                    OP, check_configuration)
