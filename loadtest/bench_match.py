"""Matching-core throughput against the raw ``hyperscan`` binding, measured in the same run.

    .venv/bin/python -m loadtest.bench_match [--mb 3] [--reps 5] [--seed 7]

A few hundred SQLi/XSS/LFI/command-injection style regexes (written here, generated from
templates) plus literals, over a few MB of generated HTTP requests. For each case the raw binding
runs the same patterns over the same data with one reused scratch and the cheapest possible
callback; the ratio ours/raw is the cost of the library layer (Match objects, sorting, the
fallback bookkeeping), or its gain (``matched_ids`` scans a SINGLEMATCH twin database).
Figures are medians of ``--reps`` repetitions; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

import hyperscan as hs

from shared.matching import Pattern, PatternFlag, compile_patterns
from shared.matching.hyperscan_build import hs_expression

F = PatternFlag

SQL_WORDS = ["select", "union", "insert", "update", "delete", "drop", "sleep", "benchmark", "waitfor",
             "information_schema", "load_file", "outfile", "concat", "char", "substring", "ascii"]
XSS_TAGS = ["script", "img", "svg", "iframe", "object", "embed", "body", "video", "audio", "details"]
XSS_EVENTS = ["onerror", "onload", "onclick", "onmouseover", "onfocus", "ontoggle", "onbegin"]
LFI_FILES = ["etc/passwd", "etc/shadow", "proc/self/environ", "windows/win.ini", "boot.ini", ".htaccess",
             "web.config", ".git/config", ".env", "id_rsa"]
SHELL_CMDS = ["cat", "wget", "curl", "nc", "bash", "sh", "python", "perl", "whoami", "uname", "chmod"]


def build_patterns(rng: random.Random) -> list[Pattern]:
    exprs: list[tuple[str, PatternFlag]] = []
    for a in SQL_WORDS:
        for b in rng.sample(SQL_WORDS, 6):
            exprs.append((rf"\b{a}\b[\s/*+()]{{1,8}}(?:all\s+|distinct\s+)?{b}\b", F.CASELESS))
    for tag in XSS_TAGS:
        for ev in XSS_EVENTS:
            exprs.append((rf"<{tag}\b[^>]{{0,80}}\b{ev}\s*=", F.CASELESS))
        exprs.append((rf"<{tag}[\s/>]", F.CASELESS))
    for path in LFI_FILES:
        exprs.append((r"(?:\.\.[/\\]|%2e%2e%2f){1,12}" + path.replace(".", r"\."), F.CASELESS))
    for cmd in SHELL_CMDS:
        exprs.append((rf"[;&|`]\s*{cmd}\b", F(0)))
        exprs.append((rf"\$\(\s*{cmd}\b", F(0)))
    exprs += [
        (r"'\s*(?:or|and)\s+['\d]+\s*=\s*['\d]+", F.CASELESS),
        (r"javascript\s*:", F.CASELESS),
        (r"\bexec(?:ute)?\s+xp_\w+", F.CASELESS),
        (r"%00|\x00", F(0)),
        (r"^(?:GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH) [^ ]{2048,}", F(0)),
        (r"\{\{.{0,40}\}\}", F.DOTALL),
        (r"\$\{jndi:(?:ldap|rmi|dns)://", F.CASELESS),
    ]
    patterns = [Pattern(i, e, f) for i, (e, f) in enumerate(exprs)]
    literals = [w for w in SQL_WORDS + XSS_EVENTS + SHELL_CMDS] + [f"/{p}" for p in LFI_FILES]
    literals += [f"x-attack-{i:03d}" for i in range(60)]
    base = len(patterns)
    patterns += [Pattern(base + i, lit, F.LITERAL | F.CASELESS) for i, lit in enumerate(literals)]
    return patterns


def build_requests(rng: random.Random, total: int) -> list[bytes]:
    words = ["home", "api", "v1", "users", "search", "img", "static", "cart", "item", "docs", "login"]
    attacks = ["1' or '1'='1", "<img src=x onerror=alert(1)>", "../../../../etc/passwd", ";cat /etc/passwd",
               "1 union all select null,concat(user,0x3a)", "${jndi:ldap://x/a}", "<svg/onload=x>"]
    out: list[bytes] = []
    size = 0
    while size < total:
        path = "/" + "/".join(rng.choice(words) for _ in range(rng.randint(1, 4)))
        q = "&".join(f"{rng.choice(words)}={rng.randint(0, 10**6)}" for _ in range(rng.randint(0, 6)))
        if rng.random() < 0.05:
            q += "&p=" + rng.choice(attacks)
        body = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 =&") for _ in range(rng.randint(0, 1500)))
        req = (
            f"POST {path}?{q} HTTP/1.1\r\nHost: demo.local\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
            f"Accept: text/html,application/xhtml+xml\r\nCookie: session={rng.getrandbits(64):x}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}"
        ).encode()
        out.append(req)
        size += len(req)
    return out


def median_rates(raw: Callable[[], object], ours: Callable[[], object], nbytes: int, reps: int) -> tuple[float, float]:
    """Interleave raw and ours so that load from other processes hits both alike."""
    raw_t: list[float] = []
    our_t: list[float] = []
    for _ in range(reps):
        for fn, times in ((raw, raw_t), (ours, our_t)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return nbytes / statistics.median(raw_t) / 1e6, nbytes / statistics.median(our_t) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=3.0, help="MB of generated HTTP requests")
    ap.add_argument("--reps", type=int, default=5, help="repetitions per case (median reported)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    patterns = build_patterns(rng)
    requests = build_requests(rng, int(args.mb * 1e6))
    small = [r[i : i + 64] for r in requests[: max(1, len(requests) // 4)] for i in range(0, len(r), 64)]
    nbytes = sum(map(len, requests))
    nsmall = sum(map(len, small))

    t0 = time.perf_counter()
    ours = compile_patterns(patterns, backend="hyperscan", mode="block+stream")
    compile_s = time.perf_counter() - t0

    flags = [int(p.flags & ~F.LITERAL) for p in patterns]
    exprs = [hs_expression(p) for p in patterns]
    raw_block = hs.Database(mode=hs.HS_MODE_BLOCK)
    raw_block.compile(expressions=exprs, ids=[p.id for p in patterns], flags=flags)
    raw_stream = hs.Database(mode=hs.HS_MODE_STREAM)
    raw_stream.compile(expressions=exprs, ids=[p.id for p in patterns], flags=flags)
    block_scratch, stream_scratch = hs.Scratch(raw_block), hs.Scratch(raw_stream)

    def on_match(pid: int, start: int, end: int, fl: int, ctx: list[tuple[int, int]]) -> None:
        ctx.append((pid, end))

    def on_id(pid: int, start: int, end: int, fl: int, ctx: set[int]) -> None:
        ctx.add(pid)

    def raw_scan() -> None:
        for r in requests:
            raw_block.scan(r, on_match, 0, [], block_scratch)

    def raw_ids(buffers: list[bytes]) -> Callable[[], None]:
        def run() -> None:
            for r in buffers:
                raw_block.scan(r, on_id, 0, set(), block_scratch)

        return run

    def raw_streams() -> None:
        for r in requests:
            hits: list[tuple[int, int]] = []
            s = raw_stream.stream(on_match, 0, hits)
            s.__enter__()
            for i in range(0, len(r), 512):
                s.scan(r[i : i + 512], 0, stream_scratch, on_match, hits)
            s.close(match_event_handler=on_match, context=hits)

    def our_streams() -> None:
        for r in requests:
            st = ours.open_stream()
            for i in range(0, len(r), 512):
                st.feed(r[i : i + 512])
            st.close()

    cases = [
        ("block scan() per request", raw_scan, lambda: [ours.scan(r) for r in requests], nbytes),
        ("matched_ids() per request", raw_ids(requests), lambda: [ours.matched_ids(r) for r in requests], nbytes),
        ("scan_many() 64-byte buffers", raw_ids(small), lambda: ours.scan_many(small), nsmall),
        ("stream 512-byte feeds", raw_streams, our_streams, nbytes),
    ]
    print(f"patterns: {len(patterns)}  paths: {ours.report}  compile (block+stream, 3 dbs): {compile_s:.2f} s")
    print(f"data: {len(requests)} requests, {nbytes / 1e6:.2f} MB; {len(small)} small buffers, {nsmall / 1e6:.2f} MB")
    matches = sum(len(ours.matched_ids(r)) for r in requests)
    print(f"requests x patterns matched: {matches}; median of {args.reps} reps\n")
    print(f"{'case':32} {'raw MB/s':>10} {'ours MB/s':>10} {'ours/raw':>9}")
    for name, raw_fn, our_fn, size in cases:
        raw_rate, our_rate = median_rates(raw_fn, our_fn, size, args.reps)
        print(f"{name:32} {raw_rate:10.1f} {our_rate:10.1f} {our_rate / raw_rate:9.2f}")


if __name__ == "__main__":
    main()
