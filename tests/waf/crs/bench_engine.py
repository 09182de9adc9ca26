"""In-process CRS throughput of the engine alone (no proxy, no sockets), with an optional profile.

    .venv/bin/python -m tests.waf.crs.bench_engine [--pl 1] [--requests 1000] [--no-prefilter] [--profile]

Prints requests/s for a benign 3-argument GET and for a SQL injection, one core. Only same-run
ratios mean anything on a shared machine (``--no-prefilter`` gives the ratio for the prefilter
groups of :mod:`services.waf.engine.prefilter`).
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import time
from dataclasses import replace
from pathlib import Path

from services.waf.engine import RuleSet, Transaction
from tests.waf.crs.crs_runner import load_crs

HEADERS = [
    ("Host", "www.example.com"),
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"),
    ("Accept", "text/html"),
    ("Accept-Language", "en-US,en;q=0.5"),
    ("Accept-Encoding", "gzip, deflate"),
]
BENIGN = "/search?q=shoes&page=2&sort=price"
ATTACK = "/search?q=1%27%20union%20select%20password%20from%20users--&page=2"


def one(rs: RuleSet, uri: str) -> Transaction:
    tx = rs.new_transaction(client_ip="192.0.2.10", client_port=50000, server_ip="127.0.0.1", server_port=80, unique_id="b")
    tx.process_request_line("GET", uri, "HTTP/1.1")
    if tx.process_request_headers(HEADERS) is None and tx.process_request_body(b"") is None:
        tx.process_response_headers(200, [("Content-Type", "text/html"), ("Content-Length", "13")])
        tx.process_response_body(b"<html></html>")
    tx.process_logging()
    return tx


def rate(rs: RuleSet, uri: str, n: int) -> float:
    for _ in range(min(n, 50)):
        one(rs, uri)
    start = time.perf_counter()
    for _ in range(n):
        one(rs, uri)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pl", type=int, default=1)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--no-prefilter", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    rs = load_crs(args.pl, engine="On", cache_dir=Path("/tmp/secchain-crs-cache"))
    if args.no_prefilter:
        rs = replace(rs, groups=(), group_of={})
    print(f"CRS PL{args.pl}, {len(rs.groups)} prefilter groups")
    print(f"benign: {rate(rs, BENIGN, args.requests):.0f} req/s")
    print(f"attack: {rate(rs, ATTACK, max(1, args.requests // 3)):.0f} req/s")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [one(rs, BENIGN) for _ in range(args.requests // 2)])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
