"""Triage: an analyst acknowledges, closes (with a comment) or reopens an alert.

The state lives on the alert document itself, so a search filters on it and an export carries it::

    "triage": {"status": "closed", "comment": "pentest window, ticket SOC-412",
               "by": "acme-analyst", "at": "2026-11-27T17:03:12.481Z",
               "history": [{"status": "acknowledged", "by": "acme-analyst", "at": "..."},
                           {"status": "closed", "comment": "pentest window, ticket SOC-412", ...}]}

Both backends compute the new object here and write it with a partial update (OpenSearch
``_update`` with ``doc``, guarded by ``if_seq_no``/``if_primary_term``; SQLite inside one write
transaction), never a script: painless scripts are disabled on many managed clusters and not
implemented by OpenSearch-compatible test servers. ``doc`` merges objects but replaces arrays,
so the history is always written whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.stores.errors import QueryParamError
from shared.stores.model import TRIAGE_STATUSES, ms_to_rfc3339, to_ms

MAX_COMMENT = 2000
# An alert reopened and closed over and over keeps its latest transitions; the oldest go first.
MAX_HISTORY = 100


@dataclass(frozen=True, slots=True)
class TriageChange:
    """One transition. ``by`` is the API key id that made it, ``at`` when the API received it."""

    status: str
    by: str
    at: datetime
    comment: str | None = None

    def __post_init__(self) -> None:
        if self.status not in TRIAGE_STATUSES:
            raise QueryParamError("status", f"must be one of {', '.join(TRIAGE_STATUSES)}, got {self.status!r}")
        if self.comment is not None:
            if not isinstance(self.comment, str):
                raise QueryParamError("comment", "must be a string")
            if len(self.comment) > MAX_COMMENT:
                raise QueryParamError("comment", f"is longer than {MAX_COMMENT} characters")
            if not self.comment.strip():
                object.__setattr__(self, "comment", None)
        # A closed alert disappears from the analysts' default "open" view; the comment is the
        # only record of why, so closing without one is refused rather than silently accepted.
        if self.status == "closed" and self.comment is None:
            raise QueryParamError("comment", "closing an alert needs a comment saying why")
        if self.at.utcoffset() is None:
            raise ValueError("at must be a timezone-aware datetime")


def status_of(doc: dict[str, Any]) -> str:
    triage = doc.get("triage")
    status = triage.get("status") if isinstance(triage, dict) else None
    return status if status in TRIAGE_STATUSES else "open"


def next_triage(doc: dict[str, Any], change: TriageChange) -> dict[str, Any]:
    """The ``triage`` object after ``change``; the previous entries of the history are kept."""
    previous = doc.get("triage") if isinstance(doc.get("triage"), dict) else {}
    history = [h for h in previous.get("history", []) if isinstance(h, dict)]
    entry: dict[str, Any] = {"status": change.status, "by": change.by, "at": ms_to_rfc3339(to_ms(change.at))}
    if change.comment is not None:
        entry["comment"] = change.comment
    history = [*history, entry][-MAX_HISTORY:]
    # ``comment`` is always present (null when this transition has none): a partial update merges
    # objects, so an absent key would leave the comment of an earlier "closed" under "open".
    return {"comment": None, **entry, "history": history}
