"""What the stores read out of an alert document before writing it.

Both backends index the same derived values so that their results agree: the millisecond sort
key, the tenant used for isolation and routing, the canonical source address, and the free-text
fields. The indexer validates documents against alert.schema.json before they get here; this
module checks only what a store needs to place and find the document, so a store never writes an
alert it could not later return to the right tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from shared.stores.model import to_ms
from shared.stores.netaddr import canonical_ip, ip_key
from shared.stores.triage import status_of

# Fields covered by the free-text parameter ``q``. The OpenSearch mapping gives each a ``text``
# (sub-)field and the SQLite FTS5 table a column of its own, so in both a phrase matches inside
# one field and never across the end of one field and the start of the next.
FREE_TEXT_FIELDS = (
    ("rule", "name"),
    ("rule", "category"),
    ("matched", "data"),
    ("url", "original"),
    ("user_agent", "original"),
    ("file", "name"),
    ("tags",),
)
FREE_TEXT_COLUMNS = tuple("_".join(path) for path in FREE_TEXT_FIELDS)


class DocumentError(ValueError):
    """The document lacks something the store needs; the message is the BulkResult reason."""


@dataclass(frozen=True, slots=True)
class Extracted:
    event_id: str
    tenant_id: str
    ts_ms: int
    day: str  # UTC day of @timestamp, YYYY.MM.DD: the OpenSearch daily index suffix
    module: str
    action: str
    severity: int
    rule_id: str
    rule_name: str | None
    source_ip: str | None
    source_ip_key: bytes | None
    vpc_id: str | None
    service_name: str | None
    trace_id: str | None
    flow_id: str | None
    triage_status: str
    text: tuple[str | None, ...]  # one value per FREE_TEXT_FIELDS entry


def _get(doc: dict[str, Any], *path: str) -> Any:
    value: Any = doc
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _required_str(doc: dict[str, Any], *path: str) -> str:
    value = _get(doc, *path)
    if not isinstance(value, str) or not value:
        raise DocumentError(f"{'.'.join(path)}: required string missing")
    return value


def _optional_str(doc: dict[str, Any], *path: str) -> str | None:
    value = _get(doc, *path)
    if value is not None and not isinstance(value, str):
        raise DocumentError(f"{'.'.join(path)}: expected a string, got {type(value).__name__}")
    return value


def parse_timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise DocumentError("@timestamp: required RFC 3339 string missing")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise DocumentError(f"@timestamp: not RFC 3339: {value[:64]!r}") from None
    if ts.utcoffset() is None:
        raise DocumentError(f"@timestamp: no UTC offset: {value[:64]!r}")
    return ts.astimezone(timezone.utc)


def free_text(doc: dict[str, Any]) -> tuple[str | None, ...]:
    values: list[str | None] = []
    for path in FREE_TEXT_FIELDS:
        value = _get(doc, *path)
        if isinstance(value, list):
            value = "\n".join(v for v in value if isinstance(v, str))
        values.append(value if isinstance(value, str) else None)
    return tuple(values)


def event_id_of(doc: Any) -> str:
    """The event id to report a rejected document under ("" when it has none)."""
    value = _get(doc, "event", "id") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else ""


def extract(doc: Any) -> Extracted:
    if not isinstance(doc, dict):
        raise DocumentError(f"an alert is a JSON object, got {type(doc).__name__}")
    event_id = _required_str(doc, "event", "id")
    tenant_id = _required_str(doc, "tenant", "id")
    ts = parse_timestamp(doc.get("@timestamp"))
    severity = _get(doc, "event", "severity")
    if not isinstance(severity, int) or isinstance(severity, bool):
        raise DocumentError("event.severity: required integer missing")
    source = _get(doc, "source", "ip")
    addr = None
    if source is not None:
        try:
            addr = canonical_ip(source) if isinstance(source, str) else None
        except ValueError:
            addr = None
        if addr is None:
            raise DocumentError(f"source.ip: not an IP address: {str(source)[:64]!r}")
    rule_id = _get(doc, "rule", "id")
    if not isinstance(rule_id, str) or not rule_id:
        raise DocumentError("rule.id: required string missing")
    return Extracted(
        event_id=event_id,
        tenant_id=tenant_id,
        ts_ms=to_ms(ts),
        day=ts.strftime("%Y.%m.%d"),
        module=_required_str(doc, "event", "module"),
        action=_required_str(doc, "event", "action"),
        severity=severity,
        rule_id=rule_id,
        rule_name=_optional_str(doc, "rule", "name"),
        source_ip=None if addr is None else str(addr),
        source_ip_key=None if addr is None else ip_key(addr),
        vpc_id=_optional_str(doc, "vpc", "id"),
        service_name=_optional_str(doc, "service", "name"),
        trace_id=_optional_str(doc, "trace", "id"),
        flow_id=_optional_str(doc, "flow", "id"),
        triage_status=status_of(doc),
        text=free_text(doc),
    )
