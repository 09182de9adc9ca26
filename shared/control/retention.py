"""Cloud auditing's retention, enforced on the audit store.

Each VPC's ``auditing.retention_days`` is applied to the alerts of that VPC: everything with
``@timestamp`` strictly before ``now - retention_days`` is deleted, on either store backend
(SQLite deletes rows in short batches; OpenSearch deletes by query inside the tenant's day
indices). VPCs without retention keep their alerts. The API service runs this periodically and on
``POST /v1/retention/run``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from shared.control.repository import ControlRepository
from shared.stores import AuditStore

log = logging.getLogger("secchain.control.retention")


@dataclass(frozen=True, slots=True)
class RetentionResult:
    tenant: str
    vpc: str
    retention_days: int
    cutoff: str
    deleted: int


def enforce_retention(repo: ControlRepository, store: AuditStore, now: datetime | None = None) -> list[RetentionResult]:
    now = now or datetime.now(timezone.utc)
    out = []
    for rec in repo.list("vpc"):
        days = (rec.spec.get("auditing") or {}).get("retention_days")
        if not days:
            continue
        cutoff = now - timedelta(days=days)
        deleted = store.delete_older_than(cutoff, rec.ref.tenant, rec.ref.vpc)
        if deleted:
            log.info("retention: deleted %d alerts of %s/%s older than %s", deleted, rec.ref.tenant, rec.ref.vpc,
                     cutoff.isoformat())
        out.append(RetentionResult(rec.ref.tenant, rec.ref.vpc, days,
                                   cutoff.isoformat(timespec="milliseconds").replace("+00:00", "Z"), deleted))
    return out
