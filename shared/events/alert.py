"""Alert model.

One alert is one JSON object with ECS-style nested names (``event.id``, ``tenant.id``, ``rule.id``...)
so SOC tools read it without a mapping layer. ``event.id`` is a UUID and the idempotency key of the
whole pipeline: the producer sets it once, the spool replays it unchanged and the stores collapse
duplicates on it.

The JSON Schema beside this file (``alert.schema.json``) is the contract; :func:`validate_alert`
checks a dict against it and is what the indexer uses to route invalid records to the DLQ.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

MODULES = ("waf", "ips", "av")
ACTIONS = ("blocked", "alerted", "dropped", "quarantined", "allowed")
SCHEMA_PATH = Path(__file__).with_name("alert.schema.json")

# matched.data is truncated like ModSecurity's audit log does, so a 1 MB argument never
# becomes a 1 MB alert.
MATCHED_DATA_MAX = 512


class AlertValidationError(ValueError):
    """An alert does not satisfy alert.schema.json. ``path`` names the offending field."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


def new_event_id() -> str:
    return str(uuid.uuid4())


def utc_now_iso() -> str:
    """RFC 3339 UTC with millisecond precision, e.g. ``2026-11-27T17:13:44.123Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _truncate(value: str | None, limit: int) -> str | None:
    if value is None or len(value) <= limit:
        return value
    return value[: limit - 3] + "..."


@dataclass(slots=True)
class Alert:
    """Flat constructor for the nested alert document; ``to_dict`` gives the wire form."""

    module: str
    action: str
    tenant_id: str
    rule_id: str
    observer_name: str
    severity: int = 3
    rule_name: str | None = None
    ruleset: str | None = None
    category: str | None = None
    tags: list[str] = field(default_factory=list)
    vpc_id: str | None = None
    service_name: str | None = None
    source_ip: str | None = None
    source_port: int | None = None
    destination_ip: str | None = None
    destination_port: int | None = None
    transport: str | None = None
    http_method: str | None = None
    url_original: str | None = None
    url_domain: str | None = None
    status_code: int | None = None
    user_agent: str | None = None
    matched_var: str | None = None
    matched_data: str | None = None
    anomaly_score: int | None = None
    waf_mode: str | None = None
    file_name: str | None = None
    file_size: int | None = None
    file_sha256: str | None = None
    flow_id: str | None = None
    trace_id: str | None = None
    event_id: str = field(default_factory=new_event_id)
    timestamp: str = field(default_factory=utc_now_iso)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "@timestamp": self.timestamp,
            "event": {
                "id": self.event_id,
                "kind": "alert",
                "module": self.module,
                "action": self.action,
                "severity": self.severity,
            },
            "tenant": {"id": self.tenant_id},
            "rule": _compact(
                {"id": str(self.rule_id), "name": _truncate(self.rule_name, 8192), "ruleset": self.ruleset,
                 "category": self.category}
            ),
            "observer": {"name": self.observer_name},
        }
        if self.tags:
            doc["tags"] = [t[:256] for t in self.tags[:64]]
        parts = {
            "vpc": {"id": self.vpc_id},
            "service": {"name": self.service_name},
            "source": {"ip": self.source_ip, "port": self.source_port},
            "destination": {"ip": self.destination_ip, "port": self.destination_port},
            "network": {"transport": self.transport},
            "http": _compact(
                {
                    "request": _compact({"method": self.http_method}),
                    "response": _compact({"status_code": self.status_code}),
                }
            ),
            "url": {"original": _truncate(self.url_original, 8192), "domain": self.url_domain},
            "user_agent": {"original": _truncate(self.user_agent, 8192)},
            "matched": {
                "var": _truncate(self.matched_var, 1024),
                "data": _truncate(self.matched_data, MATCHED_DATA_MAX),
            },
            "waf": {"anomaly_score": self.anomaly_score, "mode": self.waf_mode},
            "file": _compact(
                {
                    "name": self.file_name,
                    "size": self.file_size,
                    "hash": _compact({"sha256": self.file_sha256}),
                }
            ),
            "flow": {"id": self.flow_id},
            "trace": {"id": self.trace_id},
        }
        for key, value in parts.items():
            value = _compact(value)
            if value:
                doc[key] = value
        return doc


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != {}}


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def validate_alert(doc: Any) -> dict[str, Any]:
    """Return ``doc`` if it is a valid alert, else raise :class:`AlertValidationError`."""
    if not isinstance(doc, dict):
        raise AlertValidationError(f"an alert is a JSON object, got {type(doc).__name__}")
    error = jsonschema.exceptions.best_match(_validator().iter_errors(doc))
    if error is not None:
        path = ".".join(str(p) for p in error.absolute_path)
        raise AlertValidationError(error.message, path)
    return doc


def flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"event": {"id": 1}}`` -> ``{"event.id": 1}``; lists are kept as values."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out
