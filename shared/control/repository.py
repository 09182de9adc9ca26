"""The storage interface of the control plane, independent of the database.

A resource is addressed by a :class:`Ref` (kind, tenant, vpc, name) and stored as a JSON spec in
the tenancy file's shape plus a revision (the ETag). Every mutation runs in one transaction that
(1) checks the expected revision, (2) applies the change, (3) lets the caller validate the whole
resulting configuration, (4) bumps the configuration version and (5) appends to the change log; a
failure at any step leaves nothing behind. A PostgreSQL backend implements the same methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KINDS = ("tenant", "vpc", "site", "listener")


@dataclass(frozen=True, slots=True)
class Ref:
    kind: str
    tenant: str
    vpc: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown resource kind {self.kind!r}")

    @property
    def parent(self) -> Ref | None:
        if self.kind == "tenant":
            return None
        if self.kind == "vpc":
            return Ref("tenant", self.tenant)
        return Ref("vpc", self.tenant, self.vpc)

    @property
    def path(self) -> str:
        """The object's URL path in the REST API (also its name in the change log)."""
        p = f"/v1/tenants/{self.tenant}"
        if self.kind == "tenant":
            return p
        p += f"/vpcs/{self.vpc}"
        if self.kind == "vpc":
            return p
        return p + ("/sites/" if self.kind == "site" else "/listeners/") + self.name


@dataclass(frozen=True, slots=True)
class Record:
    ref: Ref
    spec: dict[str, Any]
    revision: int
    created_at: str
    updated_at: str

    @property
    def etag(self) -> str:
        return f'"{self.revision}"'


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: the API key (id, role, tenant), or a local operator action."""

    key_id: str
    role: str
    tenant: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "role": self.role, "tenant": self.tenant}


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    role: str
    tenant: str | None
    sha256: str
    description: str
    created_at: str
    created_by: str

    @property
    def is_provider(self) -> bool:
        return self.role == "provider-admin"


@dataclass(frozen=True, slots=True)
class ChangeQuery:
    tenant: str | None = None          # None: every tenant (provider only)
    actor: str | None = None           # key id
    kind: str | None = None
    action: str | None = None
    path_prefix: str | None = None
    since: str | None = None           # RFC 3339, inclusive
    until: str | None = None           # RFC 3339, exclusive
    after_seq: int = 0                 # cursor
    size: int = 100


@dataclass
class ChangePage:
    changes: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None


# The caller's check of the configuration that would result from a mutation: it receives every
# resource record as it would be after the change (inside the transaction) and raises
# ValidationFailed to abort it.
Validator = Callable[[list[Record], Ref], None]


class ControlRepository(ABC):
    @abstractmethod
    def migrate(self) -> int:
        """Apply pending schema migrations in order; returns the schema version. Idempotent."""

    @abstractmethod
    def version(self) -> int:
        """The configuration version: bumped by every committed change, never reused."""

    @abstractmethod
    def get(self, ref: Ref) -> Record | None: ...

    @abstractmethod
    def list(self, kind: str, tenant: str | None = None, vpc: str | None = None) -> list[Record]:
        """Records of one kind, optionally under one tenant / VPC, ordered by tenant, vpc, name."""

    @abstractmethod
    def all_records(self) -> tuple[int, list[Record]]:
        """Every record and the version they are consistent with (one read transaction)."""

    @abstractmethod
    def create(self, ref: Ref, spec: dict[str, Any], actor: Actor, validate: Validator) -> Record:
        """Insert; Conflict if it exists, NotFound if its parent does not."""

    @abstractmethod
    def replace(self, ref: Ref, spec: dict[str, Any], expected_revision: int, actor: Actor,
                validate: Validator) -> Record:
        """Overwrite the spec if the revision still matches (PreconditionFailed otherwise)."""

    @abstractmethod
    def delete(self, ref: Ref, expected_revision: int, actor: Actor) -> Record:
        """Remove; Conflict while it has children (VPCs of a tenant, sites of a VPC, keys)."""

    @abstractmethod
    def create_key(self, key: KeyRecord, actor: Actor) -> KeyRecord: ...

    @abstractmethod
    def get_key(self, key_id: str) -> KeyRecord | None: ...

    @abstractmethod
    def find_key(self, sha256: str) -> KeyRecord | None:
        """The key whose secret hashes to ``sha256`` (indexed lookup)."""

    @abstractmethod
    def list_keys(self, tenant: str | None = None, *, provider_only: bool = False) -> list[KeyRecord]: ...

    @abstractmethod
    def delete_key(self, key_id: str, actor: Actor) -> KeyRecord: ...

    @abstractmethod
    def import_all(self, records: list[Record], keys: list[KeyRecord], actor: Actor, validate: Validator) -> int:
        """Replace the whole configuration (``secchain config import``) in one change; the new version."""

    @abstractmethod
    def changes(self, query: ChangeQuery) -> ChangePage: ...

    @abstractmethod
    def report_status(self, instance: str, service: str, version: int, ok: bool, error: str | None) -> None:
        """A data-plane instance's result of building one snapshot version."""

    @abstractmethod
    def statuses(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def close(self) -> None: ...
