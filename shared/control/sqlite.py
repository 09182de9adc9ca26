"""SQLite backend of the control-plane repository (the single-machine default).

WAL mode so the API's readers never wait for a writer; every mutation is one ``BEGIN IMMEDIATE``
transaction, so two concurrent updates of one object serialise and the second one sees the new
revision and fails its If-Match check instead of overwriting (no lost update).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from shared.control.errors import Conflict, ControlError, NotFound, PreconditionFailed
from shared.control.migrations import MIGRATIONS
from shared.control.repository import (Actor, ChangePage, ChangeQuery, ControlRepository, KeyRecord,
                                       Record, Ref, Validator)


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _key_view(key: KeyRecord) -> dict[str, Any]:
    """A key as the change log keeps it: never its hash."""
    return {"id": key.id, "role": key.role, "tenant": key.tenant, "description": key.description}


class SqliteControlRepository(ControlRepository):
    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = str(path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)

    # -- connections -------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def _tx(self, immediate: bool = True) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- schema ------------------------------------------------------------------------------

    def migrate(self) -> int:
        with self._tx() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                         "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
            current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
            latest = MIGRATIONS[-1].version
            if current > latest:
                raise ControlError(f"{self.path}: schema version {current} is newer than this secchain "
                                   f"knows ({latest}); upgrade secchain")
            for m in MIGRATIONS:
                if m.version > current:
                    for statement in _statements(m.sql):
                        conn.execute(statement)
                    conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (m.version, m.name, now_rfc3339()))
        return latest

    # -- reads -------------------------------------------------------------------------------

    def version(self) -> int:
        return int(self._conn().execute("SELECT version FROM config_version WHERE id = 1").fetchone()[0])

    @staticmethod
    def _record(row: sqlite3.Row) -> Record:
        return Record(Ref(row["kind"], row["tenant_id"], row["vpc_id"], row["name"]), json.loads(row["spec"]),
                      row["revision"], row["created_at"], row["updated_at"])

    def _get(self, conn: sqlite3.Connection, ref: Ref) -> Record | None:
        row = conn.execute("SELECT * FROM resources WHERE kind=? AND tenant_id=? AND vpc_id=? AND name=?",
                           (ref.kind, ref.tenant, ref.vpc, ref.name)).fetchone()
        return None if row is None else self._record(row)

    def get(self, ref: Ref) -> Record | None:
        return self._get(self._conn(), ref)

    def list(self, kind: str, tenant: str | None = None, vpc: str | None = None) -> list[Record]:
        sql, args = "SELECT * FROM resources WHERE kind = ?", [kind]
        if tenant is not None:
            sql, args = sql + " AND tenant_id = ?", [*args, tenant]
        if vpc is not None:
            sql, args = sql + " AND vpc_id = ?", [*args, vpc]
        rows = self._conn().execute(sql + " ORDER BY tenant_id, vpc_id, name", args).fetchall()
        return [self._record(r) for r in rows]

    def _all_records(self, conn: sqlite3.Connection) -> list[Record]:
        rows = conn.execute("SELECT * FROM resources ORDER BY tenant_id, vpc_id, "
                            "CASE kind WHEN 'tenant' THEN 0 WHEN 'vpc' THEN 1 WHEN 'site' THEN 2 ELSE 3 END, "
                            "created_at, name").fetchall()
        return [self._record(r) for r in rows]

    def all_records(self) -> tuple[int, list[Record]]:
        with self._tx(immediate=False) as conn:
            version = int(conn.execute("SELECT version FROM config_version WHERE id = 1").fetchone()[0])
            return version, self._all_records(conn)

    # -- writes ------------------------------------------------------------------------------

    def _log(self, conn: sqlite3.Connection, actor: Actor, tenant: str | None, kind: str, action: str,
             path: str, before: Any, after: Any, *, bump: bool = True) -> int:
        # Keys are not part of the data plane's configuration: their changes are logged at the
        # current version without bumping it, so no data-plane instance rebuilds for them.
        version = int(conn.execute("UPDATE config_version SET version = version + 1 WHERE id = 1 RETURNING version"
                                   if bump else "SELECT version FROM config_version WHERE id = 1").fetchone()[0])
        conn.execute("INSERT INTO changes (at, version, actor_key, actor_role, actor_tenant, tenant_id, kind, "
                     "action, path, before, after) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                     (now_rfc3339(), version, actor.key_id, actor.role, actor.tenant, tenant, kind, action, path,
                      None if before is None else json.dumps(before), None if after is None else json.dumps(after)))
        return version

    def _check_parent(self, conn: sqlite3.Connection, ref: Ref) -> None:
        parent = ref.parent
        if parent is not None and self._get(conn, parent) is None:
            what = "tenant" if parent.kind == "tenant" else "VPC"
            raise NotFound(f"no such {what} {parent.path}")

    def create(self, ref: Ref, spec: dict[str, Any], actor: Actor, validate: Validator) -> Record:
        with self._tx() as conn:
            self._check_parent(conn, ref)
            if self._get(conn, ref) is not None:
                raise Conflict(f"{ref.path} exists already", field="id" if ref.kind in ("tenant", "vpc") else "name")
            if ref.kind in ("site", "listener"):
                other = conn.execute("SELECT vpc_id FROM resources WHERE kind=? AND tenant_id=? AND name=?",
                                     (ref.kind, ref.tenant, ref.name)).fetchone()
                if other is not None:
                    raise Conflict(f"this tenant has a {ref.kind} named {ref.name!r} already (in VPC "
                                   f"{other[0]!r}); names are unique per tenant", field="name")
            at = now_rfc3339()
            conn.execute("INSERT INTO resources VALUES (?,?,?,?,?,?,?,?)",
                         (ref.kind, ref.tenant, ref.vpc, ref.name, json.dumps(spec), 1, at, at))
            validate(self._all_records(conn), ref)
            self._log(conn, actor, ref.tenant, ref.kind, "create", ref.path, None, spec)
            return Record(ref, spec, 1, at, at)

    def _current(self, conn: sqlite3.Connection, ref: Ref, expected_revision: int) -> Record:
        current = self._get(conn, ref)
        if current is None:
            raise NotFound(f"no such object {ref.path}")
        if current.revision != expected_revision:
            raise PreconditionFailed(f"{ref.path} is at revision {current.revision}, not {expected_revision}; "
                                     "GET it again and retry with its ETag")
        return current

    def replace(self, ref: Ref, spec: dict[str, Any], expected_revision: int, actor: Actor,
                validate: Validator) -> Record:
        with self._tx() as conn:
            current = self._current(conn, ref, expected_revision)
            at = now_rfc3339()
            conn.execute("UPDATE resources SET spec=?, revision=?, updated_at=? "
                         "WHERE kind=? AND tenant_id=? AND vpc_id=? AND name=?",
                         (json.dumps(spec), current.revision + 1, at, ref.kind, ref.tenant, ref.vpc, ref.name))
            validate(self._all_records(conn), ref)
            if spec != current.spec:
                self._log(conn, actor, ref.tenant, ref.kind, "update", ref.path, current.spec, spec)
            return Record(ref, spec, current.revision + 1, current.created_at, at)

    def delete(self, ref: Ref, expected_revision: int, actor: Actor) -> Record:
        with self._tx() as conn:
            current = self._current(conn, ref, expected_revision)
            children: list[str] = []
            if ref.kind == "tenant":
                children = [f"VPC {r[0]}" for r in conn.execute(
                    "SELECT vpc_id FROM resources WHERE kind='vpc' AND tenant_id=? ORDER BY vpc_id", (ref.tenant,))]
                children += [f"key {r[0]}" for r in conn.execute(
                    "SELECT id FROM api_keys WHERE tenant_id=? ORDER BY id", (ref.tenant,))]
            elif ref.kind == "vpc":
                children = [f"{r[0]} {r[1]}" for r in conn.execute(
                    "SELECT kind, name FROM resources WHERE kind IN ('site','listener') AND tenant_id=? AND vpc_id=? "
                    "ORDER BY kind, name", (ref.tenant, ref.vpc))]
            if children:
                raise Conflict(f"{ref.path} still has {', '.join(children[:10])}"
                               f"{' ...' if len(children) > 10 else ''}; delete them first")
            conn.execute("DELETE FROM resources WHERE kind=? AND tenant_id=? AND vpc_id=? AND name=?",
                         (ref.kind, ref.tenant, ref.vpc, ref.name))
            self._log(conn, actor, ref.tenant, ref.kind, "delete", ref.path, current.spec, None)
            return current

    # -- keys --------------------------------------------------------------------------------

    @staticmethod
    def _key(row: sqlite3.Row) -> KeyRecord:
        return KeyRecord(row["id"], row["role"], row["tenant_id"], row["sha256"], row["description"],
                         row["created_at"], row["created_by"])

    def create_key(self, key: KeyRecord, actor: Actor) -> KeyRecord:
        with self._tx() as conn:
            if key.tenant is not None and self._get(conn, Ref("tenant", key.tenant)) is None:
                raise NotFound(f"no such tenant /v1/tenants/{key.tenant}")
            if conn.execute("SELECT 1 FROM api_keys WHERE id = ?", (key.id,)).fetchone():
                raise Conflict(f"a key with id {key.id!r} exists already", field="id")
            conn.execute("INSERT INTO api_keys VALUES (?,?,?,?,?,?,?)",
                         (key.id, key.role, key.tenant, key.sha256, key.description, key.created_at, key.created_by))
            self._log(conn, actor, key.tenant, "key", "create", f"/v1/keys/{key.id}", None, _key_view(key), bump=False)
        return key

    def get_key(self, key_id: str) -> KeyRecord | None:
        row = self._conn().execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        return None if row is None else self._key(row)

    def find_key(self, sha256: str) -> KeyRecord | None:
        row = self._conn().execute("SELECT * FROM api_keys WHERE sha256 = ?", (sha256,)).fetchone()
        return None if row is None else self._key(row)

    def list_keys(self, tenant: str | None = None, *, provider_only: bool = False) -> list[KeyRecord]:
        if provider_only:
            rows = self._conn().execute("SELECT * FROM api_keys WHERE tenant_id IS NULL ORDER BY id")
        elif tenant is not None:
            rows = self._conn().execute("SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY id", (tenant,))
        else:
            rows = self._conn().execute("SELECT * FROM api_keys ORDER BY id")
        return [self._key(r) for r in rows]

    def delete_key(self, key_id: str, actor: Actor) -> KeyRecord:
        with self._tx() as conn:
            row = conn.execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone()
            if row is None:
                raise NotFound(f"no such key {key_id!r}")
            key = self._key(row)
            conn.execute("DELETE FROM api_keys WHERE id = ?", (key_id,))
            self._log(conn, actor, key.tenant, "key", "delete", f"/v1/keys/{key.id}", _key_view(key), None, bump=False)
        return key

    # -- import ------------------------------------------------------------------------------

    def import_all(self, records: list[Record], keys: list[KeyRecord], actor: Actor, validate: Validator) -> int:
        with self._tx() as conn:
            before = [{"path": r.ref.path, "spec": r.spec} for r in self._all_records(conn)]
            conn.execute("DELETE FROM resources")
            for r in records:
                conn.execute("INSERT INTO resources VALUES (?,?,?,?,?,?,?,?)",
                             (r.ref.kind, r.ref.tenant, r.ref.vpc, r.ref.name, json.dumps(r.spec), r.revision,
                              r.created_at, r.updated_at))
            for k in keys:
                conn.execute("INSERT INTO api_keys VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                             "role=excluded.role, tenant_id=excluded.tenant_id, sha256=excluded.sha256",
                             (k.id, k.role, k.tenant, k.sha256, k.description, k.created_at, k.created_by))
            orphan = conn.execute("SELECT id, tenant_id FROM api_keys WHERE tenant_id IS NOT NULL AND tenant_id NOT IN "
                                  "(SELECT tenant_id FROM resources WHERE kind='tenant') ORDER BY id").fetchone()
            if orphan is not None:
                raise Conflict(f"key {orphan[0]!r} belongs to tenant {orphan[1]!r}, which the import removes")
            validate(self._all_records(conn), Ref("tenant", "*"))
            after = [{"path": r.ref.path, "spec": r.spec} for r in records]
            return self._log(conn, actor, None, "config", "import", "/v1/config", before,
                             after + [{"key": _key_view(k)} for k in keys])

    # -- change log --------------------------------------------------------------------------

    def changes(self, query: ChangeQuery) -> ChangePage:
        where, args = ["seq > ?"], [query.after_seq]
        for column, value in (("tenant_id", query.tenant), ("actor_key", query.actor), ("kind", query.kind),
                              ("action", query.action)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if query.path_prefix is not None:
            where.append("substr(path, 1, ?) = ?")
            args += [len(query.path_prefix), query.path_prefix]
        if query.since is not None:
            where.append("at >= ?")
            args.append(query.since)
        if query.until is not None:
            where.append("at < ?")
            args.append(query.until)
        rows = self._conn().execute(f"SELECT * FROM changes WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
                                    [*args, query.size + 1]).fetchall()
        page = ChangePage()
        for row in rows[: query.size]:
            page.changes.append({
                "seq": row["seq"], "at": row["at"], "version": row["version"],
                "actor": {"key_id": row["actor_key"], "role": row["actor_role"], "tenant": row["actor_tenant"]},
                "tenant": row["tenant_id"], "kind": row["kind"], "action": row["action"], "path": row["path"],
                "before": None if row["before"] is None else json.loads(row["before"]),
                "after": None if row["after"] is None else json.loads(row["after"]),
            })
        if len(rows) > query.size:
            page.next_cursor = str(page.changes[-1]["seq"])
        return page

    # -- data plane --------------------------------------------------------------------------

    def report_status(self, instance: str, service: str, version: int, ok: bool, error: str | None) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO dataplane_status VALUES (?,?,?,?,?,?) ON CONFLICT(instance) DO UPDATE SET "
                         "service=excluded.service, version=excluded.version, ok=excluded.ok, "
                         "error=excluded.error, reported_at=excluded.reported_at",
                         (instance, service, version, int(ok), error, now_rfc3339()))

    def statuses(self) -> list[dict[str, Any]]:
        rows = self._conn().execute("SELECT * FROM dataplane_status ORDER BY service, instance").fetchall()
        return [{"instance": r["instance"], "service": r["service"], "version": r["version"], "ok": bool(r["ok"]),
                 "error": r["error"], "reported_at": r["reported_at"]} for r in rows]

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (no migration puts ';' inside a string literal)."""
    return [s.strip() for s in sql.split(";") if s.strip() and not all(
        line.strip().startswith("--") or not line.strip() for line in s.strip().splitlines())]


def open_control_repository(url: str) -> ControlRepository:
    """``sqlite:///path/to/control.db`` (or a bare path); migrated and ready."""
    path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url
    if "://" in path:
        raise ValueError(f"unsupported control-plane database URL {url!r}; expected sqlite:///PATH")
    repo = SqliteControlRepository(path)
    repo.migrate()
    return repo
