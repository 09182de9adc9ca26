"""Where alerts live in OpenSearch: index names per tenant and day, and the index template.

``secchain-alerts-<tenant>-YYYY.MM.DD``: one index per tenant and UTC day of ``@timestamp``.
Per-tenant indices isolate tenants at the storage level (a query names only the caller's index
pattern) and make retention a cheap index deletion rather than a delete-by-query. Routing by the
alert's own timestamp, not arrival time, sends a replayed alert to the index that already holds
it, so ``op_type=create`` with ``_id = event.id`` detects the duplicate.

Index names must be lowercase and exclude ``\\ / * ? " < > | , # :`` and spaces, while a tenant id
may hold upper case, ``.``, ``:``, ``@``, ``/`` and ``-``. The tenant part is therefore encoded:
``[a-z0-9]`` as is, every other byte as ``_xx`` (hex). The encoding never contains ``-``, so the
pattern ``secchain-alerts-a-*`` can never match tenant ``a-b``'s indices
(``secchain-alerts-a_2db-...``). Over-long ids use ``_h`` + a SHA-256 prefix (``h`` is not a hex
digit, so this cannot collide with an escaped name).
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime

PREFIX = "secchain-alerts-"
TEMPLATE_NAME = "secchain-alerts"
ALL_INDICES = PREFIX + "*"
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_MAX_TOKEN = 100
_INDEX = re.compile(r"^secchain-alerts-([a-z0-9_]+)-([0-9]{4}\.[0-9]{2}\.[0-9]{2})$")

# Fields searched by ``q`` (see shared.stores.documents.FREE_TEXT_FIELDS, same order).
FREE_TEXT_QUERY_FIELDS = ("rule.name", "rule.category.text", "matched.data", "url.original",
                          "user_agent.original.text", "file.name.text", "tags.text")


def tenant_token(tenant_id: str) -> str:
    token = "".join(ch if ch in _SAFE else "".join(f"_{b:02x}" for b in ch.encode()) for ch in tenant_id)
    if len(token) > _MAX_TOKEN:
        return "_h" + hashlib.sha256(tenant_id.encode()).hexdigest()[:40]
    return token


def index_name(tenant_id: str, day: str) -> str:
    return f"{PREFIX}{tenant_token(tenant_id)}-{day}"


def tenant_pattern(tenant_id: str) -> str:
    return f"{PREFIX}{tenant_token(tenant_id)}-*"


def parse_index_name(name: str) -> tuple[str, date] | None:
    """``(tenant token, day)`` of one of our indices, None for anything else."""
    match = _INDEX.match(name)
    if not match:
        return None
    try:
        return match.group(1), datetime.strptime(match.group(2), "%Y.%m.%d").date()
    except ValueError:
        return None


def _keyword_with_text() -> dict[str, object]:
    return {"type": "keyword", "ignore_above": 1024, "fields": {"text": {"type": "text"}}}


def _text_with_keyword() -> dict[str, object]:
    return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}}}


# Written by the API (shared.stores.triage), never by a producer. Also put on existing indices by
# ensure_ready: indices created before the console existed got the older template.
TRIAGE_MAPPING: dict[str, object] = {"properties": {
    "status": {"type": "keyword"}, "by": {"type": "keyword"}, "at": {"type": "date"},
    "comment": {"type": "text"},
    "history": {"properties": {"status": {"type": "keyword"}, "by": {"type": "keyword"}, "at": {"type": "date"},
                               "comment": {"type": "text"}}}}}

# Explicit mappings for every field of alert.schema.json. ``dynamic: false`` keeps an unknown
# field in _source without indexing it: a schema addition can never make bulk requests fail with
# mapping conflicts before this template is updated.
MAPPINGS: dict[str, object] = {
    "dynamic": False,
    "properties": {
        "@timestamp": {"type": "date"},
        "event": {"properties": {
            "id": {"type": "keyword"}, "kind": {"type": "keyword"}, "module": {"type": "keyword"},
            "action": {"type": "keyword"}, "severity": {"type": "byte"}}},
        "tenant": {"properties": {"id": {"type": "keyword"}}},
        "vpc": {"properties": {"id": {"type": "keyword"}}},
        "service": {"properties": {"name": {"type": "keyword", "ignore_above": 1024}}},
        "rule": {"properties": {
            "id": {"type": "keyword"}, "name": _text_with_keyword(), "ruleset": {"type": "keyword"},
            "category": _keyword_with_text()}},
        "tags": _keyword_with_text(),
        "source": {"properties": {"ip": {"type": "ip"}, "port": {"type": "integer"}}},
        "destination": {"properties": {"ip": {"type": "ip"}, "port": {"type": "integer"}}},
        "network": {"properties": {"transport": {"type": "keyword"}}},
        "http": {"properties": {
            "request": {"properties": {"method": {"type": "keyword"}}},
            "response": {"properties": {"status_code": {"type": "short"}}}}},
        "url": {"properties": {"original": _text_with_keyword(), "domain": {"type": "keyword"}}},
        "user_agent": {"properties": {"original": _keyword_with_text()}},
        "matched": {"properties": {"var": {"type": "keyword", "ignore_above": 1024}, "data": {"type": "text"}}},
        "waf": {"properties": {"anomaly_score": {"type": "integer"}, "mode": {"type": "keyword"}}},
        "file": {"properties": {
            "name": _keyword_with_text(), "size": {"type": "long"},
            "hash": {"properties": {"sha256": {"type": "keyword"}}}}},
        "flow": {"properties": {"id": {"type": "keyword"}}},
        "trace": {"properties": {"id": {"type": "keyword"}}},
        "observer": {"properties": {"name": {"type": "keyword"}}},
        "triage": TRIAGE_MAPPING,
    },
}

# Composable template (OpenSearch >= 1.0; the legacy _template API is deprecated). One primary
# shard: a tenant-day index is small, and many tiny shards are the classic way to exhaust a
# cluster's heap.
INDEX_TEMPLATE: dict[str, object] = {
    "index_patterns": [ALL_INDICES],
    "priority": 200,
    "template": {
        "settings": {"index": {"number_of_shards": 1}},
        "mappings": MAPPINGS,
    },
    "_meta": {"owner": "secchain", "schema_version": 2},
}
