"""The pack registry: which versions of which packs are published, by whom, with what changelog.

It lives in the control plane's database (table ``pack_versions``, migration 3) so one backup holds
policies and the pack versions they pin. A published version is immutable: publishing the same
version again with the same bundle hash is a no-op (a retried CI job), with another hash it is
refused (409), as package registries such as PyPI refuse to replace a released file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shared.control.errors import Conflict, NotFound
from shared.packs.manifest import version_key


@dataclass(frozen=True, slots=True)
class PackVersion:
    kind: str
    name: str
    version: str
    sha256: str
    manifest: dict[str, Any]
    changelog: str
    published_by: str
    published_role: str
    published_at: str

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PackRegistry:
    """Registry on the control plane's SQLite database (migrated by its repository)."""

    def __init__(self, path: str | Path) -> None:
        from shared.control.sqlite import SqliteControlRepository

        self.path = str(path)
        repo = SqliteControlRepository(self.path)
        repo.migrate()
        repo.close()
        self._local = threading.local()

    @classmethod
    def from_url(cls, url: str) -> PackRegistry:
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url
        if "://" in path:
            raise ValueError(f"unsupported control-plane database URL {url!r}; expected sqlite:///PATH")
        return cls(path)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        return conn

    @staticmethod
    def _row(row: sqlite3.Row) -> PackVersion:
        return PackVersion(row["kind"], row["name"], row["version"], row["sha256"], json.loads(row["manifest"]),
                           row["changelog"], row["published_by"], row["published_role"], row["published_at"])

    def publish(self, kind: str, name: str, version: str, sha256: str, manifest: dict[str, Any], changelog: str,
                actor_key: str, actor_role: str) -> tuple[PackVersion, bool]:
        """(the stored version, True if this call created it); Conflict if published with other content."""
        from shared.control.sqlite import now_rfc3339

        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT * FROM pack_versions WHERE kind=? AND name=? AND version=?",
                               (kind, name, version)).fetchone()
            if row is not None:
                conn.execute("ROLLBACK")
                existing = self._row(row)
                if existing.sha256 != sha256:
                    raise Conflict(f"{kind} pack {name}@{version} is already published with bundle "
                                   f"{existing.sha256[:12]} by {existing.published_by} at {existing.published_at}; "
                                   f"a published version is immutable: bump the version (this build is {sha256[:12]})")
                return existing, False
            conn.execute("INSERT INTO pack_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (kind, name, version, sha256, json.dumps(manifest, sort_keys=True), changelog,
                          actor_key, actor_role, now_rfc3339()))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return self.get(kind, name, version), True

    def get(self, kind: str, name: str, version: str) -> PackVersion:
        row = self._conn().execute("SELECT * FROM pack_versions WHERE kind=? AND name=? AND version=?",
                                   (kind, name, version)).fetchone()
        if row is None:
            raise NotFound(f"{kind} pack {name}@{version} is not published")
        return self._row(row)

    def versions(self, kind: str, name: str) -> list[PackVersion]:
        """Published versions of one pack, lowest semver first."""
        rows = self._conn().execute("SELECT * FROM pack_versions WHERE kind=? AND name=?", (kind, name)).fetchall()
        return sorted((self._row(r) for r in rows), key=lambda v: version_key(v.version))

    def all(self, kind: str | None = None) -> list[PackVersion]:
        sql, args = "SELECT * FROM pack_versions", ()
        if kind is not None:
            sql, args = sql + " WHERE kind=?", (kind,)
        rows = self._conn().execute(sql, args).fetchall()
        return sorted((self._row(r) for r in rows), key=lambda v: (v.kind, v.name, version_key(v.version)))

    def previous(self, kind: str, name: str, version: str) -> PackVersion | None:
        """The highest published version below ``version`` (what a rollback re-pins)."""
        lower = [v for v in self.versions(kind, name) if version_key(v.version) < version_key(version)]
        return lower[-1] if lower else None
