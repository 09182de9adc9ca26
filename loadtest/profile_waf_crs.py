"""Where the WAF's time goes with CRS PL1: the engine alone, in-process, under cProfile.

    python -m loadtest.profile_waf_crs [--requests 2000] [--top 25] [--corpus benign|attack] [--backend python]

Runs the same corpus as ``loadtest.bench_waf_crs`` through Transactions (phases 1, 2, 3 and 5, as
the proxy drives them, with an echo-sized JSON response body for phase 4), prints engine
microseconds per request, then the functions with the most own time. The HTTP side (aiohttp,
the upstream hop) is what ``bench_waf_crs``'s ``relay`` target measures.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import tempfile
import time
from pathlib import Path

from loadtest.bench_waf_crs import ATTACK, BASE_HEADERS, BENIGN, Req
from services.waf.engine import load_ruleset
from services.waf.policy import DEFAULT_CRS_ROOT, DEFAULT_CRS_SETUP, crs_files
from shared.config.tenancy import CrsSettings


def _one(ruleset, r: Req, n: int) -> None:
    tx = ruleset.new_transaction(client_ip="127.0.0.1", client_port=40000 + n % 20000, server_ip="127.0.0.1",
                                 server_port=8080, unique_id=f"p{n}")
    headers = [("Host", "crs.local"), *BASE_HEADERS.items()]
    body = r.body.encode()
    if r.content_type:
        headers.append(("Content-Type", r.content_type))
    if r.cookie:
        headers.append(("Cookie", r.cookie))
    if body:
        headers.append(("Content-Length", str(len(body))))
    tx.process_request_line(r.method, r.path, "HTTP/1.1")
    tx.process_request_headers(headers)
    tx.process_request_body(body)
    echo = json.dumps({"method": r.method, "path": r.path, "headers": headers}).encode()
    tx.process_response_headers(200, [("Content-Type", "application/json; charset=utf-8"),
                                      ("Content-Length", str(len(echo)))])
    if getattr(tx, "wants_response_body", False):
        tx.process_response_body(echo)
    tx.process_logging()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--corpus", choices=("benign", "attack"), default="benign")
    ap.add_argument("--paranoia", type=int, default=1)
    ap.add_argument("--backend", choices=("hyperscan", "python"), default="hyperscan",
                    help="matching core backend (sets $SECCHAIN_MATCHING_BACKEND, as the WAF's --matching-backend)")
    args = ap.parse_args(argv)
    os.environ["SECCHAIN_MATCHING_BACKEND"] = args.backend
    corpus = BENIGN if args.corpus == "benign" else ATTACK
    with tempfile.TemporaryDirectory(prefix="secchain-profile-") as tmp:
        files = crs_files(CrsSettings(paranoia_level=args.paranoia, inbound_threshold=5, outbound_threshold=4),
                          crs_root=DEFAULT_CRS_ROOT, crs_setup=DEFAULT_CRS_SETUP, work_dir=Path(tmp))
        t0 = time.perf_counter()
        ruleset = load_ruleset(files, cache_dir=Path(tmp) / "cache")
        print(f"CRS PL{args.paranoia} loaded in {time.perf_counter() - t0:.1f} s")
        for i in range(50):  # warm-up: lazy compiles, caches
            _one(ruleset, corpus[i % len(corpus)], i)
        t0 = time.perf_counter()
        for i in range(args.requests):
            _one(ruleset, corpus[i % len(corpus)], i)
        per = (time.perf_counter() - t0) / args.requests
        print(f"engine ({args.backend}): {per * 1e6:.0f} us per {args.corpus} request (no profiler), "
              f"{1 / per:.0f} requests/s on one core")
        prof = cProfile.Profile()
        prof.enable()
        for i in range(args.requests):
            _one(ruleset, corpus[i % len(corpus)], i)
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.top)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
