"""Ordered schema migrations of the control-plane database.

Each migration runs once, in order, inside the same transaction as the bump of
``schema_migrations``; a database newer than this code is refused rather than misread. Never edit
a released migration: append the next one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "resources, keys, change log, configuration version", """
        CREATE TABLE resources (
            kind       TEXT    NOT NULL,
            tenant_id  TEXT    NOT NULL,
            vpc_id     TEXT    NOT NULL DEFAULT '',
            name       TEXT    NOT NULL DEFAULT '',
            spec       TEXT    NOT NULL,
            revision   INTEGER NOT NULL,
            created_at TEXT    NOT NULL,
            updated_at TEXT    NOT NULL,
            PRIMARY KEY (kind, tenant_id, vpc_id, name)
        );
        -- The WAF keys a site's compiled policy by (tenant, site name): unique per tenant, not per VPC.
        CREATE UNIQUE INDEX resources_protected_name ON resources (kind, tenant_id, name)
            WHERE kind IN ('site', 'listener');
        CREATE TABLE api_keys (
            id          TEXT PRIMARY KEY,
            role        TEXT NOT NULL,
            tenant_id   TEXT,
            sha256      TEXT NOT NULL UNIQUE,
            description TEXT NOT NULL DEFAULT '',
            created_at  TEXT NOT NULL,
            created_by  TEXT NOT NULL
        );
        CREATE INDEX api_keys_tenant ON api_keys (tenant_id);
        CREATE TABLE changes (
            seq        INTEGER PRIMARY KEY AUTOINCREMENT,
            at         TEXT    NOT NULL,
            version    INTEGER NOT NULL,
            actor_key  TEXT    NOT NULL,
            actor_role TEXT    NOT NULL,
            actor_tenant TEXT,
            tenant_id  TEXT,
            kind       TEXT    NOT NULL,
            action     TEXT    NOT NULL,
            path       TEXT    NOT NULL,
            before     TEXT,
            after      TEXT
        );
        CREATE INDEX changes_tenant ON changes (tenant_id, seq);
        CREATE INDEX changes_at ON changes (at);
        CREATE TABLE config_version (
            id      INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL
        );
        INSERT INTO config_version (id, version) VALUES (1, 0);
    """),
    Migration(2, "data-plane build reports", """
        CREATE TABLE dataplane_status (
            instance    TEXT PRIMARY KEY,
            service     TEXT NOT NULL,
            version     INTEGER NOT NULL,
            ok          INTEGER NOT NULL,
            error       TEXT,
            reported_at TEXT NOT NULL
        );
    """),
    Migration(3, "rule pack registry", """
        -- One row per published pack version, never updated: a published version is immutable.
        CREATE TABLE pack_versions (
            kind         TEXT NOT NULL,
            name         TEXT NOT NULL,
            version      TEXT NOT NULL,
            sha256       TEXT NOT NULL,
            manifest     TEXT NOT NULL,
            changelog    TEXT NOT NULL,
            published_by TEXT NOT NULL,
            published_role TEXT NOT NULL,
            published_at TEXT NOT NULL,
            PRIMARY KEY (kind, name, version)
        );
        CREATE INDEX pack_versions_sha256 ON pack_versions (sha256);
    """),
)
