"""Cloud auditing's retention on both audit store backends: exactly what is due is deleted."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from shared.control import Actor, Ref, open_control_repository
from shared.control.model import canonical_spec, check_configuration
from shared.control.retention import enforce_retention
from shared.stores import AlertQuery, AuditStore
from tests.plugins.stores import make_alert

NOW = datetime(2026, 6, 15, 12, 0, 0, tzinfo=timezone.utc)
OP = Actor("test", "provider-admin")


def _ts(delta: timedelta) -> str:
    return (NOW - delta).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ids(store: AuditStore, tenant: str) -> set[str]:
    page = store.search(AlertQuery(tenant_ids=(tenant,), size=1000))
    return {h["rule"]["name"] for h in page.hits}


def test_retention_deletes_exactly_what_is_due(tmp_path: Path, audit_store: AuditStore) -> None:
    repo = open_control_repository(f"sqlite:///{tmp_path / 'control.db'}")
    for tenant, vpcs in (("a", {"v7": 7, "v30": 30, "keep": None}), ("b", {"v7": None})):
        repo.create(Ref("tenant", tenant), {"name": tenant}, OP, check_configuration)
        for vpc, days in vpcs.items():
            ref = Ref("vpc", tenant, vpc)
            spec = canonical_spec("vpc", ref, {"id": vpc, "auditing": {"retention_days": days}})
            repo.create(ref, spec, OP, check_configuration)
    ages = {"fresh": timedelta(days=1), "edge-in": timedelta(days=7) - timedelta(seconds=1),
            "edge-out": timedelta(days=7, milliseconds=1), "month": timedelta(days=29, hours=23),
            "old": timedelta(days=45)}
    docs = []
    for tenant, vpc in (("a", "v7"), ("a", "v30"), ("a", "keep"), ("b", "v7")):
        for label, age in ages.items():
            docs.append(make_alert(tenant_id=tenant, vpc_id=vpc, rule_name=f"{vpc}:{label}", timestamp=_ts(age)))
    assert audit_store.bulk_index(docs).indexed == len(docs)
    audit_store.refresh()

    results = enforce_retention(repo, audit_store, now=NOW)
    audit_store.refresh()

    by_vpc = {(r.tenant, r.vpc): r.deleted for r in results}
    assert by_vpc == {("a", "v7"): 3, ("a", "v30"): 1}, by_vpc
    left = _ids(audit_store, "a")
    assert left == {"v7:fresh", "v7:edge-in", "v30:fresh", "v30:edge-in", "v30:edge-out", "v30:month",
                    *(f"keep:{label}" for label in ages)}
    # tenant b's VPC is also called v7 but keeps everything: retention is per tenant and VPC
    assert _ids(audit_store, "b") == {f"v7:{label}" for label in ages}
    assert enforce_retention(repo, audit_store, now=NOW)[0].deleted == 0, "a second round deletes nothing"
    repo.close()


def test_vpc_filter_needs_a_tenant(audit_store: AuditStore) -> None:
    with pytest.raises(ValueError, match="vpc_id needs tenant_id"):
        audit_store.delete_older_than(NOW, vpc_id="v1")
