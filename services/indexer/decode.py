"""Turning one Kafka record into an alert document, or into the reason it goes to the DLQ.

The reasons are stable, machine-readable strings (they become the ``secchain.reason`` header and
the ``reason`` label of the DLQ counter), with the human detail beside them, so an operator can
count "schema" failures per producer without parsing messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shared.events import AlertValidationError, validate_alert

REASON_EMPTY = "empty"            # tombstone or zero-length value
REASON_ENCODING = "encoding"      # not UTF-8
REASON_JSON = "json"              # not JSON
REASON_SCHEMA = "schema"          # JSON, but not a valid alert (alert.schema.json)
REASON_KEY = "key"                # valid alert whose Kafka key is not its tenant.id
REASON_STORE = "store-rejected"   # the store refused the document for good (BulkResult.failed)


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str
    detail: str


def decode_alert(key: bytes | None, value: bytes | None) -> dict[str, Any] | Rejected:
    """The alert in ``value`` if it is a valid alert keyed by its tenant, else why not."""
    if not value:
        return Rejected(REASON_EMPTY, "record has no value")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected(REASON_ENCODING, f"value is not UTF-8: {exc}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return Rejected(REASON_JSON, f"value is not JSON: {exc}")
    try:
        validate_alert(doc)
    except AlertValidationError as exc:
        return Rejected(REASON_SCHEMA, str(exc))
    tenant = doc["tenant"]["id"]
    # A keyless record loses per-tenant ordering, not data, so it is indexed. A key naming a
    # different tenant than the document is a crossed or forged record: it goes to the DLQ for a
    # human rather than into either tenant's audit trail.
    if key is not None and key != str(tenant).encode():
        return Rejected(REASON_KEY, f"record key {key[:64]!r} is not the alert's tenant.id {tenant!r}")
    return doc
