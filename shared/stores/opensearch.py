"""OpenSearch audit store (opensearch-py sync client).

Index layout and mappings: see :mod:`shared.stores.opensearch_layout`. Writes use ``_bulk`` with
``op_type=create`` and ``_id = event.id``: a replayed alert gets ``409 version_conflict`` and
counts as a duplicate, never as a second copy. Searches name only the caller's tenant index
patterns *and* filter on ``tenant.id`` (defence in depth: a mis-routed document is still not
shown to another tenant). Pagination is ``search_after`` on ``(@timestamp, event.id, tenant.id)``,
a total order, so no page repeats or skips a hit.

Retries: the client's own retry has no backoff, so it is off and this module retries 429 (bulk
thread-pool rejections), 5xx and connection errors with exponential backoff and jitter, as
OpenSearch's bulk guidance asks. Per-item 429/5xx inside a bulk response are retried for those
items only. When retries run out the call raises StoreUnavailable, so the indexer keeps its Kafka
offsets and the batch comes back; per-item 4xx other than 409 are permanent and reported in
``BulkResult.failed``.

Designed for OpenSearch 2.x and tested against osmem-server (in-memory, OpenSearch-compatible).
Where they differ, or where this backend differs from the SQLite one:

- osmem makes writes visible at once; real OpenSearch within ``refresh_interval`` (1 s). Nothing
  here depends on it: ``refresh()`` exists for tests and tools that must read their own writes.
- Free text is analysed by the ``standard`` analyzer here and by FTS5 ``unicode61`` in SQLite.
  They agree on ordinary words; they differ on tokens such as ``foo_bar`` or ``1.2.3.4`` (one
  token here, several there).
- ``terms`` aggregations over several indices are approximate in OpenSearch when counts are
  skewed across shards; ``shard_size`` is raised to keep the top entries exact in practice.
  osmem computes them exactly.
- No point-in-time: ``search_after`` on a unique sort key already gives pages that neither
  repeat nor skip a hit while alerts arrive, which is the contract; a PIT would pin a snapshot.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import TransportError

from shared.stores.base import AuditStore
from shared.stores.documents import DocumentError, event_id_of, extract
from shared.stores.errors import StoreError, StoreUnavailable
from shared.stores.groups import AlertGroups, GroupField
from shared.stores.histogram import fill, needs_data_bounds, plan
from shared.stores.model import (TRIAGE_STATUSES, AlertQuery, AlertStats, BulkResult, SearchPage, SortKey,
                                 encode_cursor, ms_to_rfc3339, to_ms)
from shared.stores.opensearch_layout import (ALL_INDICES, FREE_TEXT_QUERY_FIELDS, INDEX_TEMPLATE, TEMPLATE_NAME,
                                             TRIAGE_MAPPING, index_name, parse_index_name, tenant_pattern,
                                             tenant_token)
from shared.stores.triage import TriageChange, next_triage

T = TypeVar("T")
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
# Beyond this many tenants the URL would grow past http.max_initial_line_length (4 kB): search all
# alert indices and rely on the tenant.id filter alone.
_MAX_PATTERNS = 40
_FILTERS = (("module", "event.module"), ("action", "event.action"), ("rule_id", "rule.id"),
            ("severity", "event.severity"), ("vpc_id", "vpc.id"), ("service_name", "service.name"),
            ("trace_id", "trace.id"), ("flow_id", "flow.id"), ("source_ip", "source.ip"))
# Documents per _bulk request: a few MB, inside OpenSearch's recommended 5-15 MB per request.
_BULK_CHUNK = 1000
_SEARCH_OPTIONS = {"ignore_unavailable": "true", "allow_no_indices": "true", "expand_wildcards": "open"}


class OpenSearchStore(AuditStore):
    def __init__(self, url: str, *, http_auth: tuple[str, str] | None = None, ca_certs: str | None = None,
                 verify_certs: bool = True, timeout: float = 30.0, retries: int = 5,
                 backoff: float = 0.2, backoff_max: float = 10.0) -> None:
        self.url = url
        self._retries = max(0, retries)
        self._backoff = backoff
        self._backoff_max = backoff_max
        options: dict[str, Any] = {"timeout": timeout, "max_retries": 0, "retry_on_timeout": False,
                                   "pool_maxsize": 16, "http_compress": False}
        if http_auth is not None:
            options["http_auth"] = http_auth
        if url.startswith("https://"):
            options.update(use_ssl=True, verify_certs=verify_certs, ssl_show_warn=verify_certs)
            if ca_certs:
                options["ca_certs"] = ca_certs
        self.client = OpenSearch(hosts=[url], **options)
        self._closed = False

    # -- transport -----------------------------------------------------------------------------
    def _sleep(self, attempt: int) -> None:
        time.sleep(min(self._backoff_max, self._backoff * 2 ** attempt) * random.uniform(0.5, 1.0))

    def _call(self, what: str, fn: Callable[..., T], **kwargs: Any) -> T:
        if self._closed:
            raise StoreError(f"OpenSearch store {self.url} is closed")
        reason = ""
        for attempt in range(self._retries + 1):
            try:
                return fn(**kwargs)
            except OSConnectionError as exc:
                reason = f"cannot reach {self.url}: {exc.info if exc.info else exc}"
            except TransportError as exc:
                status = exc.status_code if isinstance(exc.status_code, int) else 0
                reason = f"HTTP {status}: {_reason(exc.info) if exc.info else exc.error}"
                if status not in _RETRY_STATUS:
                    raise StoreError(f"OpenSearch {what} failed: {reason}") from exc
            if attempt < self._retries:
                self._sleep(attempt)
        raise StoreUnavailable(f"OpenSearch {what} failed after {self._retries + 1} attempts: {reason}")

    # -- AuditStore ----------------------------------------------------------------------------
    def ensure_ready(self) -> None:
        self._call("putting index template", self.client.indices.put_index_template,
                   name=TEMPLATE_NAME, body=INDEX_TEMPLATE)
        # Adding fields to a mapping is allowed on live indices; the ones made from an older
        # template would otherwise not index triage and the status filter would miss them.
        self._call("putting triage mapping", self.client.indices.put_mapping, index=ALL_INDICES,
                   body={"properties": {"triage": TRIAGE_MAPPING}}, params=_SEARCH_OPTIONS)

    def bulk_index(self, docs: Sequence[dict[str, Any]]) -> BulkResult:
        """Sent in chunks of _BULK_CHUNK. If a later chunk raises StoreUnavailable, the earlier
        ones are stored; the caller's retry of the whole batch reports them as duplicates."""
        result = BulkResult()
        for start in range(0, len(docs), _BULK_CHUNK):
            self._bulk_chunk(docs[start:start + _BULK_CHUNK], result)
        return result

    def _bulk_chunk(self, docs: Sequence[dict[str, Any]], result: BulkResult) -> None:
        pending: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for doc in docs:
            try:
                ex = extract(doc)
            except DocumentError as exc:
                result.failed.append((event_id_of(doc), str(exc)))
                continue
            pending.append(({"create": {"_index": index_name(ex.tenant_id, ex.day), "_id": ex.event_id}}, doc))
        attempt = 0
        while pending:
            body: list[dict[str, Any]] = [line for action, doc in pending for line in (action, doc)]
            response = self._call("bulk", self.client.bulk, body=body)
            retry: list[tuple[dict[str, Any], dict[str, Any]]] = []
            last_reason = ""
            for (action, doc), item in zip(pending, response["items"]):
                outcome = item.get("create", {})
                status = outcome.get("status", 0)
                if 200 <= status < 300:
                    result.indexed += 1
                elif status == 409:
                    result.duplicates += 1
                elif status in _RETRY_STATUS:
                    retry.append((action, doc))
                    last_reason = _reason(outcome)
                else:
                    result.failed.append((action["create"]["_id"], f"HTTP {status}: {_reason(outcome)}"))
            pending = retry
            if pending:
                if attempt >= self._retries:
                    raise StoreUnavailable(f"OpenSearch bulk: {len(pending)} document(s) still rejected after "
                                           f"{attempt + 1} attempts: {last_reason}")
                self._sleep(attempt)
                attempt += 1

    def search(self, query: AlertQuery) -> SearchPage:
        if query.tenant_ids == ():
            return SearchPage(hits=[], total=0, next_cursor=None)
        order = query.sort
        body: dict[str, Any] = {
            "query": self._query(query),
            "sort": [{"@timestamp": {"order": order}}, {"event.id": {"order": order}},
                     {"tenant.id": {"order": order}}],
            "size": query.size + 1,
            "track_total_hits": query.with_total,
        }
        if query.after is not None:
            body["search_after"] = query.after.as_list()
        response = self._call("search", self.client.search, index=self._indices(query.tenant_ids), body=body,
                              params=_SEARCH_OPTIONS)
        hits = response["hits"]["hits"]
        more = len(hits) > query.size
        hits = hits[: query.size]
        cursor = None
        if more:
            ts_ms, event_id, tenant_id = hits[-1]["sort"]
            cursor = encode_cursor(SortKey(int(ts_ms), event_id, tenant_id), order)
        total = response["hits"]["total"]["value"] if query.with_total else None
        return SearchPage(hits=[h["_source"] for h in hits], total=total, next_cursor=cursor)

    def stats(self, query: AlertQuery, *, top: int = 10, interval: str | None = None) -> AlertStats:
        index = self._indices(query.tenant_ids) if query.tenant_ids != () else None
        bucket_order = [{"_count": "desc"}, {"_key": "asc"}]  # OpenSearch's default, made explicit
        aggs: dict[str, Any] = {
            "rules": {"terms": {"field": "rule.id", "size": top, "shard_size": max(100, top * 5),
                                "order": bucket_order},
                      "aggs": {"latest": {"top_hits": {"size": 1, "sort": [{"@timestamp": {"order": "desc"}}],
                                                       "_source": {"includes": ["rule.name"]}}}}},
            "sources": {"terms": {"field": "source.ip", "size": top, "shard_size": max(100, top * 5),
                                  "order": bucket_order}},
            "targets": {"terms": {"field": "service.name", "size": top, "shard_size": max(100, top * 5),
                                  "order": bucket_order}},
            "first": {"min": {"field": "@timestamp"}},
            "last": {"max": {"field": "@timestamp"}},
        }
        response: dict[str, Any] = {}
        if index is not None:
            response = self._call("stats", self.client.search, index=index, params=_SEARCH_OPTIONS,
                                  body={"size": 0, "track_total_hits": True, "query": self._query(query),
                                        "aggs": aggs})
        found = response.get("aggregations", {})
        total = response["hits"]["total"]["value"] if response else 0
        top_rules = [
            {"rule_id": b["key"], "count": b["doc_count"],
             "rule_name": (b["latest"]["hits"]["hits"][0]["_source"].get("rule") or {}).get("name")}
            for b in found.get("rules", {}).get("buckets", [])
        ]
        top_sources = [{"source_ip": b["key"], "count": b["doc_count"]}
                       for b in found.get("sources", {}).get("buckets", [])]
        top_targets = [{"service_name": b["key"], "count": b["doc_count"]}
                       for b in found.get("targets", {}).get("buckets", [])]
        data_min = _ms(found.get("first", {}).get("value"))
        data_max = _ms(found.get("last", {}).get("value"))
        chosen = plan(query.from_ms, query.until_ms,
                      data_min if needs_data_bounds(query.from_ms, query.until_ms) else None,
                      data_max, interval, to_ms(datetime.now(timezone.utc)))
        histogram: list[dict[str, Any]] = []
        if chosen is not None:
            name, step, first, last = chosen
            counts: dict[int, int] = {}
            if index is not None and total:
                hist = self._call("stats histogram", self.client.search, index=index, params=_SEARCH_OPTIONS,
                                  body={"size": 0, "query": self._query(query), "aggs": {"h": {"date_histogram": {
                                      "field": "@timestamp", "fixed_interval": f"{step}ms", "min_doc_count": 1}}}})
                counts = {int(b["key"]): b["doc_count"] for b in hist["aggregations"]["h"]["buckets"]}
            histogram = fill(counts, first, last, step)
            interval = name
        return AlertStats(total=total, top_rules=top_rules, top_sources=top_sources, histogram=histogram,
                          interval=interval or "", top_targets=top_targets)

    def groups(self, query: AlertQuery, by: Sequence[GroupField], *, size: int = 100) -> AlertGroups:
        names = tuple(f.name for f in by)
        if query.tenant_ids == () or not by:
            return AlertGroups(by=names, groups=[])
        sub: dict[str, Any] = {"first": {"min": {"field": "@timestamp"}}, "last": {"max": {"field": "@timestamp"}}}
        if "rule" in names:
            sub["latest"] = {"top_hits": {"size": 1, "sort": [{"@timestamp": {"order": "desc"}}],
                                          "_source": {"includes": ["rule.name"]}}}
        order = [{"_count": "desc"}, {"_key": "asc"}]
        shard_size = max(100, size * 5)
        if len(by) == 1:
            agg: dict[str, Any] = {"terms": {"field": by[0].field, "size": size, "shard_size": shard_size,
                                             "order": order}}
        else:
            # multi_terms (OpenSearch 2.1+) ranks the combinations by count, which composite cannot.
            agg = {"multi_terms": {"terms": [{"field": f.field} for f in by], "size": size,
                                   "shard_size": shard_size, "order": order}}
        agg["aggs"] = sub
        response = self._call("groups", self.client.search, index=self._indices(query.tenant_ids),
                              params=_SEARCH_OPTIONS,
                              body={"size": 0, "query": self._query(query), "aggs": {"groups": agg}})
        groups: list[dict[str, Any]] = []
        for bucket in response.get("aggregations", {}).get("groups", {}).get("buckets", []):
            values = bucket["key"] if len(by) > 1 else [bucket["key"]]
            key = {f.key: _group_value(f, v) for f, v in zip(by, values)}
            group: dict[str, Any] = {"key": key, "count": bucket["doc_count"],
                                     "first_seen": ms_to_rfc3339(int(bucket["first"]["value"])),
                                     "last_seen": ms_to_rfc3339(int(bucket["last"]["value"]))}
            if "rule" in names:
                latest = bucket["latest"]["hits"]["hits"]
                group["rule_name"] = (latest[0]["_source"].get("rule") or {}).get("name") if latest else None
            groups.append(group)
        return AlertGroups(by=names, groups=groups)

    def triage(self, event_id: str, tenant_ids: tuple[str, ...] | None,
               change: TriageChange) -> dict[str, Any] | None:
        if tenant_ids is not None and not tenant_ids:
            return None
        for _ in range(self._retries + 3):
            hit = self._find(event_id, tenant_ids, seq_no=True)
            if hit is None:
                return None
            doc = hit["_source"]
            triage = next_triage(doc, change)
            # Optimistic concurrency: if another analyst changed the alert since it was read, the
            # update is refused (409) and re-done on the new version, so no transition is lost.
            # refresh=wait_for: the analyst's next list view must already show the new status.
            updated = self._call("triage", self._update_if_unchanged, index=hit["_index"], id=hit["_id"],
                                 body={"doc": {"triage": triage}},
                                 params={"if_seq_no": hit["_seq_no"], "if_primary_term": hit["_primary_term"],
                                         "refresh": "wait_for"})
            if updated:
                return {**doc, "triage": triage}
        raise StoreUnavailable(f"OpenSearch triage of {event_id}: the alert kept changing under concurrent updates")

    def _update_if_unchanged(self, **kwargs: Any) -> bool:
        try:
            self.client.update(**kwargs)
        except TransportError as exc:
            if exc.status_code == 409:
                return False
            raise
        return True

    def get(self, event_id: str, tenant_ids: tuple[str, ...] | None) -> dict[str, Any] | None:
        if tenant_ids is not None and not tenant_ids:
            return None
        hit = self._find(event_id, tenant_ids)
        return None if hit is None else hit["_source"]

    def _find(self, event_id: str, tenant_ids: tuple[str, ...] | None, *, seq_no: bool = False) -> dict[str, Any] | None:
        filters: list[dict[str, Any]] = [{"term": {"event.id": event_id}}]
        if tenant_ids is not None:
            filters.append({"terms": {"tenant.id": list(tenant_ids)}})
        body: dict[str, Any] = {"size": 1, "query": {"bool": {"filter": filters}},
                                "sort": [{"@timestamp": {"order": "asc"}}, {"tenant.id": {"order": "asc"}}]}
        if seq_no:
            body["seq_no_primary_term"] = True
        response = self._call("get", self.client.search, index=self._indices(tenant_ids), params=_SEARCH_OPTIONS,
                              body=body)
        hits = response["hits"]["hits"]
        return hits[0] if hits else None

    def delete_older_than(self, cutoff: datetime, tenant_id: str | None = None, vpc_id: str | None = None) -> int:
        if cutoff.utcoffset() is None:
            raise ValueError("cutoff must be a timezone-aware datetime")
        if vpc_id is not None and tenant_id is None:
            raise ValueError("vpc_id needs tenant_id: VPC ids are unique only within a tenant")
        cutoff_day = cutoff.astimezone(timezone.utc).date()
        pattern = ALL_INDICES if tenant_id is None else tenant_pattern(tenant_id)
        token = None if tenant_id is None else tenant_token(tenant_id)
        rows = self._call("listing indices", self.client.cat.indices, index=pattern,
                          params={"format": "json", "h": "index", "expand_wildcards": "open"})
        deleted = 0
        for row in rows:
            parsed = parse_index_name(row["index"])
            if parsed is None or (token is not None and parsed[0] != token):
                continue
            day = parsed[1]
            if vpc_id is not None:
                if day > cutoff_day:
                    continue
                # A tenant's day index holds every VPC's alerts: delete only this VPC's by query.
                done = self._call("retention delete_by_query", self.client.delete_by_query, index=row["index"],
                                  body={"query": {"bool": {"filter": [
                                      {"term": {"vpc.id": vpc_id}},
                                      {"range": {"@timestamp": {"lt": to_ms(cutoff), "format": "epoch_millis"}}}]}}},
                                  params={"conflicts": "proceed", "refresh": "true"})
                deleted += done.get("deleted", 0)
            elif day < cutoff_day:
                # Every alert in a day index has its @timestamp on that day: the whole index is
                # older than the cutoff, and deleting it is far cheaper than delete-by-query.
                count = self._call("counting", self.client.count, index=row["index"])["count"]
                self._call("deleting index", self.client.indices.delete, index=row["index"],
                           params={"ignore_unavailable": "true"})
                deleted += count
            elif day == cutoff_day:
                done = self._call("retention delete_by_query", self.client.delete_by_query, index=row["index"],
                                  body={"query": {"range": {"@timestamp": {"lt": to_ms(cutoff),
                                                                           "format": "epoch_millis"}}}},
                                  params={"conflicts": "proceed", "refresh": "true"})
                deleted += done.get("deleted", 0)
        return deleted

    def refresh(self) -> None:
        self._call("refresh", self.client.indices.refresh, index=ALL_INDICES, params=_SEARCH_OPTIONS)

    def ping(self) -> bool:
        if self._closed:
            return False
        try:
            return bool(self.client.ping())
        except Exception:  # ping feeds /readyz: any failure is "not ready", never an error
            return False

    def close(self) -> None:
        self._closed = True
        self.client.close()

    # -- query building ------------------------------------------------------------------------
    @staticmethod
    def _indices(tenant_ids: tuple[str, ...] | None) -> str:
        if tenant_ids is None or len(tenant_ids) > _MAX_PATTERNS:
            return ALL_INDICES
        return ",".join(sorted({tenant_pattern(t) for t in tenant_ids}))

    @staticmethod
    def _query(query: AlertQuery) -> dict[str, Any]:
        filters: list[dict[str, Any]] = []
        if query.tenant_ids is not None:
            filters.append({"terms": {"tenant.id": list(query.tenant_ids)}})
        if query.from_ms is not None or query.until_ms is not None:
            bounds: dict[str, Any] = {"format": "epoch_millis"}
            if query.from_ms is not None:
                bounds["gte"] = query.from_ms
            if query.until_ms is not None:
                bounds["lt"] = query.until_ms
            filters.append({"range": {"@timestamp": bounds}})
        for attr, field in _FILTERS:
            value = getattr(query, attr)
            if value is not None:
                filters.append({"term": {field: value}})
        for term in query.terms:
            filters.append({"multi_match": {"query": term, "type": "phrase", "fields": list(FREE_TEXT_QUERY_FIELDS)}})
        if query.status == "open":
            # An alert never triaged has no triage object at all: "open" is "not acknowledged or closed".
            closed = [s for s in TRIAGE_STATUSES if s != "open"]
            return {"bool": {"filter": filters, "must_not": [{"terms": {"triage.status": closed}}]}}
        if query.status is not None:
            filters.append({"term": {"triage.status": query.status}})
        return {"bool": {"filter": filters}}


def _group_value(field: GroupField, value: Any) -> Any:
    # multi_terms renders every key as a string; severity is a number in SQLite's answer and ours.
    if field.name == "severity":
        return int(value)
    return value


def _ms(value: Any) -> int | None:
    return None if value is None else int(value)


def _reason(info: Any) -> str:
    """The most useful line of an OpenSearch error body."""
    if isinstance(info, dict):
        error = info.get("error", info)
        if isinstance(error, dict):
            cause = (error.get("root_cause") or [error])[0]
            return f"{cause.get('type', 'error')}: {cause.get('reason', '')}".strip()
        return str(error)
    return str(info)[:500]
