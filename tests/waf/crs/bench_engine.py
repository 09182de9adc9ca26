"""In-process CRS throughput of the engine alone (no proxy, no sockets), with an optional profile.

    .venv/bin/python -m tests.waf.crs.bench_engine [--pl 1] [--requests 1000] [--rounds 5]
        [--no-prefilter] [--no-specialise] [--profile]

Prints requests/s for a benign 3-argument GET and for a SQL injection, one core: the median of
``--rounds`` rounds (and the best), since a shared machine's load swings from one second to the
next. Only same-run ratios mean anything there: ``--no-prefilter`` gives the ratio for the
prefilter groups of :mod:`services.waf.engine.prefilter`, ``--no-specialise`` the one for the
load-time fast matchers of :mod:`services.waf.engine.plan`.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import statistics
import time
from dataclasses import replace
from pathlib import Path

from services.waf.engine import RuleSet, Transaction
from services.waf.engine.plan import build_plan
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


def rate(rs: RuleSet, uri: str, n: int, rounds: int = 1) -> tuple[float, float]:
    """(median, best) requests/s over ``rounds`` rounds of ``n`` requests."""
    for _ in range(min(n, 50)):
        one(rs, uri)
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            one(rs, uri)
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates), max(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pl", type=int, default=1)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-prefilter", action="store_true")
    parser.add_argument("--no-specialise", action="store_true", help="leave every rule to the general path")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    rs = load_crs(args.pl, engine="On", cache_dir=Path("/tmp/secchain-crs-cache"))
    if args.no_prefilter:
        rs = replace(rs, groups=(), group_of={})
    if args.no_specialise:
        rs = replace(rs, plan=build_plan(rs.phases, rs.group_of, specialise=False))
    print(f"CRS PL{args.pl}, {len(rs.groups)} prefilter groups, specialised: {not args.no_specialise}")
    for label, uri, n in (("benign", BENIGN, args.requests), ("attack", ATTACK, max(1, args.requests // 3))):
        median, best = rate(rs, uri, max(1, n // args.rounds), args.rounds)
        print(f"{label}: {median:.0f} req/s (median of {args.rounds} rounds; best {best:.0f})")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [one(rs, BENIGN) for _ in range(args.requests // 2)])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
