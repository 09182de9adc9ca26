"""The control plane's library: resource model, storage, change audit, data-plane snapshots.

Tenants, VPCs, protected objects (WAF sites, IPS listeners) and API keys live in a
:class:`~shared.control.repository.ControlRepository` (SQLite by default). Every change bumps one
monotonically increasing configuration version and is recorded in the change log with its actor,
before and after. The data plane receives the configuration as a snapshot that is exactly a tenancy
document (``shared.config.tenancy``), so the file format stays the import/export format.
"""

from shared.control.errors import (Conflict, ControlError, Forbidden, NotFound, PreconditionFailed,
                                   PreconditionRequired, ValidationFailed)
from shared.control.repository import Actor, ChangeQuery, ControlRepository, KeyRecord, Record, Ref
from shared.control.sqlite import SqliteControlRepository, open_control_repository

__all__ = ["Actor", "ChangeQuery", "Conflict", "ControlError", "ControlRepository", "Forbidden", "KeyRecord",
           "NotFound", "PreconditionFailed", "PreconditionRequired", "Record", "Ref",
           "SqliteControlRepository", "ValidationFailed", "open_control_repository"]
