"""Seed an audit store with realistic alerts, for the console benchmark and for trying the console.

    python -m loadtest.seed_alerts var/audit-1m.db --alerts 1000000 [--days 7] [--seed 1]

Writes through ``SqliteStore.bulk_index`` (the indexer's own path: same columns, indexes and FTS
rows), 20,000 alerts per transaction. The mix is what a SOC sees: three tenants of unequal size,
mostly WAF alerts (SQL injection, XSS, traversal, scanners), IPS alerts on a few listeners, a
trickle of AV detections; sources drawn from a heavy-tailed distribution (a few scanners make most
of the noise), a day/night rhythm, and bursts in which one source fires one rule thousands of times
within minutes, which is what grouping exists for. One WAF request in fifty also has an AV alert
with the same trace id, and IPS alerts share flow ids in pairs, so the detail view has related
alerts to show.

Addresses come from the documentation ranges (RFC 5737) and the shared address space of RFC 6598,
never from real networks.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import itertools
import multiprocessing
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from shared.events import Alert
from shared.stores.sqlite import SqliteStore

BATCH = 20_000
TENANTS = (("acme", 0.55, ("vpc-a1", "vpc-a2"), ("shop", "portal", "api")),
           ("beta", 0.30, ("vpc-b1",), ("intranet", "mail-gw")),
           ("gamma", 0.15, ("vpc-c1",), ("citizen-web",)))
WAF_RULES = (
    ("942100", "SQL injection detected by libinjection", "attack-sqli", 1, "ARGS:id", "1' OR '1'='1"),
    ("942190", "SQL injection: UNION-based probe", "attack-sqli", 1, "ARGS:q", "1 union select null,version()--"),
    ("941100", "Cross-site scripting detected by libinjection", "attack-xss", 2, "ARGS:comment",
     "<script>alert(document.cookie)</script>"),
    ("930100", "Path traversal in the request", "attack-lfi", 2, "REQUEST_URI", "/../../etc/passwd"),
    ("932160", "Unix shell command in a parameter", "attack-rce", 1, "ARGS:host", ";cat /etc/shadow"),
    ("913100", "Request from a known vulnerability scanner", "attack-reputation-scanner", 3,
     "REQUEST_HEADERS:User-Agent", "sqlmap/1.7.2#stable"),
    ("920350", "Host header is a numeric IP address", "protocol-violation", 4, "REQUEST_HEADERS:Host", "203.0.113.10"),
    ("949110", "Inbound anomaly score exceeded", "anomaly-evaluation", 2, "TX:anomaly_score", "15"),
)
IPS_RULES = (
    ("2100498", "Response contains id output (uid=0)", "attempted-admin", 1),
    ("2001219", "SSH brute force: many connection attempts", "attempted-recon", 2),
    ("2024897", "Outbound connection to a known C2 port", "trojan-activity", 1),
    ("2013028", "Suspicious outbound user agent", "policy-violation", 3),
)
AV_RULES = (("Eicar-Signature", "EICAR test file", 1), ("Secchain.Heuristic.ArchiveBomb", "Archive bomb", 2),
            ("Win.Trojan.Agent-1234", "Windows trojan dropper", 1))
PATHS = ("/", "/login", "/search", "/api/v1/items", "/admin/", "/wp-login.php", "/cgi-bin/test.cgi", "/upload")
AGENTS = ("Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0", "curl/8.5.0", "python-requests/2.32.3",
          "sqlmap/1.7.2#stable", "Nikto/2.5.0", "Go-http-client/1.1")


def _pool(rng: random.Random, size: int) -> list[str]:
    nets = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "100.64.0.0/10")]
    pool: list[str] = []
    while len(pool) < size:
        net = rng.choice(nets)
        pool.append(str(net[rng.randrange(1, net.num_addresses - 1)]))
    return pool


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Generator:
    def __init__(self, seed: int, end: datetime, days: float) -> None:
        self.rng = random.Random(seed)
        self.end = end.timestamp()
        self.start = self.end - days * 86400
        self.sources = _pool(self.rng, 20_000)
        self.source_cum = list(itertools.accumulate(1.0 / (rank + 1) ** 1.1 for rank in range(len(self.sources))))
        self.tenant_cum = list(itertools.accumulate(t[1] for t in TENANTS))
        self.burst: tuple[float, str, Any, str, int] | None = None

    def _time(self) -> float:
        # Day/night rhythm: rejection-sample against a sine over the UTC day (more in the daytime).
        while True:
            ts = self.rng.uniform(self.start, self.end)
            hour = (ts % 86400) / 3600
            if self.rng.random() < 0.55 + 0.45 * abs((12 - abs(hour - 13)) / 12):
                return ts

    def alerts(self, count: int) -> list[dict[str, Any]]:
        rng = self.rng
        out: list[dict[str, Any]] = []
        while len(out) < count:
            if self.burst is None and rng.random() < 0.00002:
                # A scanner: one source, one rule, up to 10,000 alerts over a few minutes.
                self.burst = (self._time(), rng.choice(self.sources[:200]), rng.choice(WAF_RULES[:5]),
                              rng.choice(TENANTS)[0], rng.randrange(2000, 10_000))
            if self.burst is not None:
                ts, source, rule, tenant, left = self.burst
                out.append(self._waf(ts, tenant, source, rule))
                self.burst = None if left <= 1 else (ts + rng.expovariate(20), source, rule, tenant, left - 1)
                continue
            tenant = rng.choices(TENANTS, cum_weights=self.tenant_cum)[0]
            # Zipf-like: a few scanners make most of the noise.
            source = (rng.choices(self.sources, cum_weights=self.source_cum)[0] if rng.random() < 0.9
                      else rng.choice(self.sources))
            kind = rng.random()
            ts = self._time()
            if kind < 0.70:
                doc = self._waf(ts, tenant[0], source, rng.choice(WAF_RULES), tenant)
                out.append(doc)
                if rng.random() < 0.02:
                    out.append(self._av(ts + 0.05, tenant, source, doc["trace"]["id"]))
            elif kind < 0.95:
                out.extend(self._ips(ts, tenant, source))
            else:
                out.append(self._av(ts, tenant, source, uuid.UUID(int=rng.getrandbits(128)).hex))
        return out[:count]

    def _tenant(self, tenant_id: str) -> tuple[str, float, tuple[str, ...], tuple[str, ...]]:
        return next(t for t in TENANTS if t[0] == tenant_id)

    def _waf(self, ts: float, tenant_id: str, source: str, rule: Any, tenant: Any = None) -> dict[str, Any]:
        rng = self.rng
        tenant = tenant or self._tenant(tenant_id)
        rule_id, name, tag, severity, var, data = rule
        site = rng.choice(tenant[3])
        path = rng.choice(PATHS)
        blocked = rng.random() < 0.8
        return Alert(
            module="waf", action="blocked" if blocked else "alerted", tenant_id=tenant[0], rule_id=rule_id,
            rule_name=name, ruleset="core@1.0.0", category=tag, tags=[tag], severity=severity,
            observer_name="waf-1", vpc_id=rng.choice(tenant[2]), service_name=site, source_ip=source,
            source_port=rng.randrange(1024, 65535), destination_ip="10.0.3.7", destination_port=443, transport="tcp",
            http_method=rng.choice(("GET", "GET", "POST")), url_original=f"{path}?{var.split(':')[-1].lower()}=x",
            url_domain=f"{site}.{tenant[0]}.example.gov", status_code=403 if blocked else 200,
            user_agent=rng.choice(AGENTS), matched_var=var, matched_data=data,
            anomaly_score=rng.choice((5, 10, 15, 20)), waf_mode="prevent" if blocked else "detect",
            trace_id=uuid.UUID(int=rng.getrandbits(128)).hex, event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            timestamp=_iso(ts)).to_dict()

    def _ips(self, ts: float, tenant: Any, source: str) -> list[dict[str, Any]]:
        rng = self.rng
        flow = str(rng.getrandbits(52))
        docs = []
        for i in range(rng.choice((1, 1, 2))):
            rule_id, name, category, severity = rng.choice(IPS_RULES)
            docs.append(Alert(
                module="ips", action=rng.choice(("dropped", "alerted")), tenant_id=tenant[0], rule_id=rule_id,
                rule_name=name, ruleset="et-open@2026.11", category=category, severity=severity, observer_name="ips-1",
                vpc_id=rng.choice(tenant[2]), service_name=f"{tenant[0]}-ssh" if "SSH" in name else f"{tenant[0]}-tcp",
                source_ip=source, source_port=rng.randrange(1024, 65535), destination_ip="10.0.3.9",
                destination_port=22 if "SSH" in name else 8443, transport="tcp", flow_id=flow,
                matched_data="uid=0(root) gid=0(root) groups=0(root)" if rule_id == "2100498" else "SSH-2.0-libssh_0.9.6",
                event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), timestamp=_iso(ts + i * 0.2)).to_dict())
        return docs

    def _av(self, ts: float, tenant: Any, source: str, trace: str) -> dict[str, Any]:
        rng = self.rng
        rule_id, name, severity = rng.choice(AV_RULES)
        body = rng.randbytes(16)
        site = rng.choice(tenant[3])
        return Alert(
            module="av", action="blocked", tenant_id=tenant[0], rule_id=rule_id, rule_name=name, severity=severity,
            ruleset="av-core@1.0.0", observer_name="av-1", vpc_id=rng.choice(tenant[2]), service_name=site,
            source_ip=source, http_method="POST", url_original="/upload", url_domain=f"{site}.{tenant[0]}.example.gov",
            file_name=rng.choice(("invoice.pdf.exe", "report.zip", "eicar.com", "photo.jpg")),
            file_size=rng.randrange(68, 5_000_000), file_sha256=hashlib.sha256(body).hexdigest(), trace_id=trace,
            event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), timestamp=_iso(ts)).to_dict()


def _batch(job: tuple[int, int, float, float, int]) -> list[dict[str, Any]]:
    seed_value, index, end, days, count = job
    generator = Generator(seed_value * 1_000_003 + index, datetime.fromtimestamp(end, timezone.utc), days)
    return generator.alerts(count)


def seed(path: Path, count: int, *, days: float = 7.0, seed_value: int = 1, end: datetime | None = None,
         progress: bool = False) -> int:
    """Write ``count`` alerts ending at ``end`` (default now) into the SQLite store at ``path``.

    Alerts are generated in a worker process while this one writes the previous batch (SQLite
    has one writer; generation is the other half of the cost). Each batch has its own seed, so a
    run is reproducible."""
    store = SqliteStore(path)
    store.ensure_ready()
    with store._connection("seed settings") as conn:
        # Random UUID event ids land all over the unique index: with the store's 32 MB cache the
        # seed slows to a crawl past a few hundred thousand rows. A bulk load may use 1 GB; the
        # documents and indexes written are the same.
        conn.execute("PRAGMA cache_size=-1048576")
    end_ts = (end or datetime.now(timezone.utc)).timestamp()
    jobs = [(seed_value, i, end_ts, days, min(BATCH, count - start)) for i, start in enumerate(range(0, count, BATCH))]
    written = 0
    started = time.monotonic()
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:
            for docs in pool.imap(_batch, jobs):
                result = store.bulk_index(docs)
                if result.failed:
                    raise RuntimeError(f"generated alerts rejected: {result.failed[:3]}")
                written += result.indexed + result.duplicates
                if progress:
                    rate = written / max(1e-9, time.monotonic() - started)
                    print(f"\r{written:>10,} alerts  {rate:,.0f}/s", end="", file=sys.stderr, flush=True)
    finally:
        store.close()
    if progress:
        print(file=sys.stderr)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.seed_alerts", description=__doc__.split("\n\n")[0])
    parser.add_argument("db", type=Path, help="SQLite store file (created if missing)")
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=7.0, help="spread the alerts over this many days up to now")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.monotonic()
    written = seed(args.db, args.alerts, days=args.days, seed_value=args.seed, progress=True)
    elapsed = time.monotonic() - started
    print(f"seeded {written:,} alerts into {args.db} in {elapsed:.1f} s ({written / elapsed:,.0f}/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
