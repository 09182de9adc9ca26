"""Shadow evaluation: a candidate pack version runs beside the active one without acting.

A site with ``shadow: core@1.3.0`` keeps serving with its active rule sets; after each response
the WAF hands the request (line, headers, buffered body) to a :class:`ShadowEvaluator`, which
runs the active and the candidate rule sets on it in DetectionOnly (so each sees every rule that
matches, not only the first that would block) and records the difference by rule id: fires in
the candidate only, or in the active only. This is the evidence ``secchain rules diff-report``
summarises before a maintainer promotes the candidate, the way a CRS upgrade is first run in
DetectionOnly beside the old version on real traffic.

The request path pays one non-blocking ``put_nowait`` into a bounded queue: when the evaluator
falls behind, requests are counted as dropped, never delayed. Phases 1, 2 and 5 are compared
(request rules); response rules need the upstream's answer, which is not kept.

Storage is a small SQLite file (WAL, one writer per worker process, busy timeout) with one row
per differing rule and per-minute counters of evaluated, differing and dropped requests.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("secchain.packs.shadow")

SCHEMA = """
CREATE TABLE IF NOT EXISTS shadow_counts (
    minute     INTEGER NOT NULL,
    tenant     TEXT NOT NULL,
    site       TEXT NOT NULL,
    active     TEXT NOT NULL,
    candidate  TEXT NOT NULL,
    evaluated  INTEGER NOT NULL DEFAULT 0,
    differed   INTEGER NOT NULL DEFAULT 0,
    dropped    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, tenant, site, active, candidate)
);
CREATE TABLE IF NOT EXISTS shadow_diffs (
    ts         REAL NOT NULL,
    tenant     TEXT NOT NULL,
    site       TEXT NOT NULL,
    active     TEXT NOT NULL,
    candidate  TEXT NOT NULL,
    request_id TEXT NOT NULL,
    rule_id    INTEGER NOT NULL,
    side       TEXT NOT NULL CHECK (side IN ('candidate', 'active')),
    uri        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS shadow_diffs_site ON shadow_diffs (tenant, site, ts);
"""


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=10.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    return conn


@dataclass(frozen=True, slots=True)
class ShadowJob:
    tenant: str
    site: str
    active_label: str
    candidate_label: str
    active: Any       # RuleSet
    candidate: Any    # RuleSet
    request_id: str
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    client_ip: str
    client_port: int
    at: float


@dataclass(frozen=True, slots=True)
class ShadowResult:
    """A difference already computed where the traffic was seen (the IPS compares per flow, as
    its detectors run beside each other on the flow: services.packs.ips_shadow)."""

    tenant: str
    site: str              # the listener's name for the IPS
    active_label: str
    candidate_label: str
    request_id: str        # the flow id
    target: str            # "198.51.100.7:40001 -> 10.0.0.5:80"
    at: float
    only_candidate: frozenset[int]
    only_active: frozenset[int]


def _fired(ruleset: Any, job: ShadowJob) -> set[int]:
    tx = ruleset.with_engine_mode("DetectionOnly").new_transaction(
        client_ip=job.client_ip, client_port=job.client_port, server_ip="", server_port=0, unique_id=job.request_id)
    tx.process_request_line(job.method, job.target, job.version)
    tx.process_request_headers(job.headers)
    tx.process_request_body(job.body)
    tx.process_logging()
    return {m.id for m in tx.matched_rules if m.log}


def compare(job: ShadowJob) -> tuple[set[int], set[int]]:
    """(rule ids firing in the candidate only, in the active only)."""
    active, candidate = _fired(job.active, job), _fired(job.candidate, job)
    return candidate - active, active - candidate


class ShadowEvaluator:
    """A bounded queue and one worker thread per WAF process; ``submit`` never blocks."""

    def __init__(self, db_path: Path, *, max_queue: int = 1000, flush_interval: float = 0.5) -> None:
        self.db_path = db_path
        self.queue: queue.Queue[ShadowJob | ShadowResult | None] = queue.Queue(maxsize=max_queue)
        self.flush_interval = flush_interval
        self.dropped = 0
        self.evaluated = 0
        self._pending_drops: dict[tuple[str, str, str, str], int] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None  # started by the first job: most sites have no shadow

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="shadow-evaluator", daemon=True)
                    self._thread.start()

    def submit(self, job: ShadowJob | ShadowResult) -> bool:
        self._ensure_thread()
        try:
            self.queue.put_nowait(job)
            return True
        except queue.Full:
            self.count_dropped(job.tenant, job.site, job.active_label, job.candidate_label)
            return False

    def count_dropped(self, tenant: str, site: str, active: str, candidate: str) -> None:
        """A request or flow that could not be compared (queue full, candidate error)."""
        self._ensure_thread()
        with self._lock:
            self.dropped += 1
            k = (tenant, site, active, candidate)
            self._pending_drops[k] = self._pending_drops.get(k, 0) + 1

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every submitted job is evaluated and written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self, timeout: float = 5.0) -> None:
        if self._thread is None:
            return
        self.drain(timeout)
        try:
            self.queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        conn = connect(self.db_path)
        rows: list[tuple[Any, ...]] = []
        counts: dict[tuple[Any, ...], list[int]] = {}
        done = 0
        last = time.monotonic()
        while True:
            try:
                job = self.queue.get(timeout=self.flush_interval)
            except queue.Empty:
                job = ...  # type: ignore[assignment]
            if job is None:
                self._write(conn, rows, counts)
                for _ in range(done):
                    self.queue.task_done()
                self.queue.task_done()
                conn.close()
                return
            if job is not ...:
                done += 1
                try:
                    if isinstance(job, ShadowResult):
                        only_candidate, only_active = set(job.only_candidate), set(job.only_active)
                    else:
                        only_candidate, only_active = compare(job)
                except Exception:  # noqa: BLE001 - a rule error in the candidate is its own evidence
                    log.exception("shadow evaluation failed for request %s", job.request_id)
                    only_candidate, only_active = set(), set()
                key = (int(job.at // 60) * 60, job.tenant, job.site, job.active_label, job.candidate_label)
                c = counts.setdefault(key, [0, 0, 0])
                c[0] += 1
                c[1] += 1 if (only_candidate or only_active) else 0
                for side, ids in (("candidate", only_candidate), ("active", only_active)):
                    rows += [(job.at, job.tenant, job.site, job.active_label, job.candidate_label, job.request_id,
                              rule_id, side, job.target[:2048]) for rule_id in sorted(ids)]
            if done and (len(rows) >= 500 or time.monotonic() - last >= self.flush_interval or self.queue.empty()):
                self._write(conn, rows, counts)
                self.evaluated += done
                for _ in range(done):
                    self.queue.task_done()
                rows, counts, done, last = [], {}, 0, time.monotonic()
            elif job is ... and self._pending_drops:
                self._write(conn, [], {})

    def _write(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]], counts: dict[tuple[Any, ...], list[int]]) -> None:
        with self._lock:
            drops, self._pending_drops = self._pending_drops, {}
        minute = int(time.time() // 60) * 60
        for (tenant, site, active, candidate), n in drops.items():
            c = counts.setdefault((minute, tenant, site, active, candidate), [0, 0, 0])
            c[2] += n
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO shadow_diffs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            conn.executemany(
                "INSERT INTO shadow_counts VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "evaluated = evaluated + excluded.evaluated, differed = differed + excluded.differed, "
                "dropped = dropped + excluded.dropped",
                [(*k, *v) for k, v in counts.items()])
            conn.execute("COMMIT")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log.exception("shadow results not written (%d rows lost)", len(rows))


# -- the report -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RuleDiff:
    rule_id: int
    candidate_only: int
    active_only: int
    example: str


@dataclass(frozen=True, slots=True)
class DiffReport:
    site: str
    since: float
    pairs: list[tuple[str, str]]
    evaluated: int
    differed: int
    dropped: int
    rules: list[RuleDiff]

    def render(self, window: str, *, what: str = "site", unit: str = "requests") -> str:
        """``what``/``unit``: ``listener``/``flows`` for an IPS listener's report."""
        pairs = ", ".join(f"active {a} vs candidate {c}" for a, c in self.pairs) or "no shadow traffic"
        why = "queue full" if unit == "requests" else "queue full or candidate error"
        out = [f"shadow report for {what} {self.site}, last {window}: {pairs}",
               f"{self.evaluated} {unit} evaluated, {self.differed} differed, {self.dropped} not evaluated ({why})"]
        if self.rules:
            out.append(f"{'rule' if unit == 'requests' else 'sid':>9}  {'candidate only':>14}  {'active only':>11}  example")
            for r in self.rules:
                out.append(f"{r.rule_id:>9}  {r.candidate_only:>14}  {r.active_only:>11}  {r.example[:60]}")
        else:
            out.append("no differences")
        return "\n".join(out)


def diff_report(db_path: Path, site: str, since: float, tenant: str | None = None) -> DiffReport:
    conn = connect(db_path)
    try:
        where, args = "site = ? AND ts >= ?", [site, since]
        cwhere, cargs = "site = ? AND minute >= ?", [site, int(since // 60) * 60]
        if tenant is not None:
            where, cwhere = where + " AND tenant = ?", cwhere + " AND tenant = ?"
            args.append(tenant)
            cargs.append(tenant)
        evaluated, differed, dropped = conn.execute(
            f"SELECT COALESCE(SUM(evaluated), 0), COALESCE(SUM(differed), 0), COALESCE(SUM(dropped), 0) "
            f"FROM shadow_counts WHERE {cwhere}", cargs).fetchone()
        pairs = [tuple(r) for r in conn.execute(
            f"SELECT DISTINCT active, candidate FROM shadow_counts WHERE {cwhere} ORDER BY active, candidate", cargs)]
        rules = [RuleDiff(r[0], r[1], r[2], r[3] or "") for r in conn.execute(
            f"SELECT rule_id, SUM(side = 'candidate'), SUM(side = 'active'), MIN(uri) FROM shadow_diffs "
            f"WHERE {where} GROUP BY rule_id ORDER BY COUNT(*) DESC, rule_id", args)]
    finally:
        conn.close()
    return DiffReport(site, since, pairs, evaluated, differed, dropped, rules)


def parse_window(text: str) -> float:
    """``90s``, ``15m``, ``1h``, ``2d`` -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"expected a window such as 15m, 1h or 7d, got {text!r}")
    return int(text[:-1]) * units[text[-1]]
