"""Export of a query's alerts as CSV or NDJSON, streamed page by page.

``GET /v1/alerts/export?format=csv&from=now-24h&rule_id=942100`` walks the store with the search
cursor (``search_after`` on OpenSearch, keyset on SQLite), so there is no 10,000-hit window as with
``from``/``size`` paging and memory stays at one page whatever the size of the export.

NDJSON is one alert document per line, unchanged (what ``jq``, EveBox imports and OpenSearch
``_bulk`` tooling expect). CSV flattens the fields an analyst opens in a spreadsheet; cells that a
spreadsheet would run as a formula (starting with ``= + - @``, tab or carriage return: OWASP's
"CSV injection") get a leading apostrophe, because attack payloads in ``matched.data`` and
``url.original`` start with exactly those characters.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

CSV_COLUMNS = (
    "@timestamp", "tenant.id", "event.id", "event.module", "event.action", "event.severity", "rule.id",
    "rule.name", "rule.category", "source.ip", "source.port", "destination.ip", "destination.port",
    "network.transport", "vpc.id", "service.name", "http.request.method", "url.original",
    "http.response.status_code", "matched.var", "matched.data", "file.name", "file.hash.sha256",
    "trace.id", "flow.id", "triage.status", "triage.by", "triage.at", "triage.comment",
)
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _field(doc: dict[str, Any], dotted: str) -> Any:
    if dotted in doc:  # "@timestamp" is a top-level name with no dots
        return doc[dotted]
    value: Any = doc
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_header() -> bytes:
    return _csv_rows([list(CSV_COLUMNS)])


def csv_chunk(docs: Iterable[dict[str, Any]]) -> bytes:
    return _csv_rows([[_cell(_field(doc, c)) for c in CSV_COLUMNS] for doc in docs])


def _csv_rows(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    # RFC 4180 line ends; every cell that needs it is quoted, so a newline inside matched data
    # stays inside its cell.
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode()


def ndjson_chunk(docs: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for doc in docs)
