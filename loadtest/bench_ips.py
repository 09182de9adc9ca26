"""IPS throughput against baselines measured in the same run.

    python -m loadtest.bench_ips [--rules-dir /work/shared/et-open] [--flows 300] [--rounds 3]
                                 [--duration 5] [--connections 16] [--bulk-mb 32] [--skip-inline] [--profile]

(a) **Replay**: a generated capture of benign HTTP flows (requests with realistic headers,
    HTML/JSON/JS responses) goes through the whole offline path (decode, flow table, TCP
    reassembly, app-layer parsers, detection) with the ET Open ruleset loaded. The baseline is raw
    Hyperscan (block mode, one reused scratch, a no-op callback) scanning the same packet payloads
    for the same fast patterns the engine's prefilter uses. Figure: payload MB/s, and the ratio.
    The capture is read into memory first, so disk speed is in neither figure.
(b) **Inline**: two IPS processes with the same listeners, one with the ET Open ruleset, one with
    ``--no-inspection`` (the same proxy code, no engine calls): ``wrk`` sends benign HTTP through
    each to the demo echo upstream (req/s, p50, p99), and one client uploads ``--bulk-mb`` MB in one
    POST through each to a sink (MB/s). Targets alternate each round so machine noise hits both.

Every figure is the median of ``--rounds`` rounds. ``--profile`` adds cProfile's top entries for
one replay round: where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

from loadtest.bench_waf import lua_script, parse_wrk, run_wrk
from loadtest.stack import REPO, start_upstream
from services.ips.model import Direction
from shared.runtime.ports import free_port, wait_for_port
from shared.runtime.process import die_with_parent, stop_process

WORDS = ("budget report department services citizen portal application status document archive "
         "schedule meeting minutes transport health education library permit license tax office "
         "registry public notice council planning water energy statistics open data request").split()
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
]


# ---------------------------------------------------------------------------------------------
# corpus


def _text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def http_exchange(rng: random.Random, host: str) -> list[tuple[Direction, bytes]]:
    kind = rng.random()
    path = "/" + "/".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
    if kind < 0.3:
        path += f"?q={rng.choice(WORDS)}+{rng.choice(WORDS)}&page={rng.randint(1, 40)}"
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {rng.choice(AGENTS)}\r\n"
               "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
               "Accept-Language: en-GB,en;q=0.7\r\nAccept-Encoding: identity\r\n"
               f"Cookie: session={rng.getrandbits(128):032x}; lang=en\r\nConnection: keep-alive\r\n\r\n").encode()
    if kind < 0.6:
        paragraphs = "".join(f"<p>{_text(rng, rng.randint(20, 120))}</p>\n" for _ in range(rng.randint(5, 60)))
        body = f"<!doctype html><html><head><title>{_text(rng, 4)}</title></head><body>{paragraphs}</body></html>"
        ctype = "text/html; charset=utf-8"
    elif kind < 0.85:
        items = [{"id": rng.randint(1, 10**6), "name": _text(rng, 3), "status": rng.choice(WORDS)}
                 for _ in range(rng.randint(5, 200))]
        body, ctype = json.dumps({"items": items}), "application/json"
    else:
        fns = "".join(f"function {rng.choice(WORDS)}{i}(a,b){{return a+b*{i};}}\n" for i in range(rng.randint(20, 300)))
        body, ctype = fns, "application/javascript"
    raw = body.encode()
    response = (f"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Fri, 27 Nov 2026 19:40:01 GMT\r\n"
                f"Content-Type: {ctype}\r\nContent-Length: {len(raw)}\r\nCache-Control: max-age=60\r\n\r\n").encode() + raw
    return [(Direction.TO_SERVER, request), (Direction.TO_CLIENT, response)]


def build_capture(path: Path, flows: int, seed: int) -> int:
    """Write ``flows`` HTTP connections (1-4 requests each) to ``path``; returns payload bytes."""
    from services.ips.layers.pcap import write_pcap
    from services.ips.layers.pcapgen import tcp_session

    rng = random.Random(seed)
    frames: list[tuple[float, bytes]] = []
    payload = 0
    ts = 1_795_808_401.0
    for i in range(flows):
        exchanges = [x for _ in range(rng.randint(1, 4)) for x in http_exchange(rng, f"www{i % 7}.example.gov")]
        payload += sum(len(b) for _, b in exchanges)
        client = (f"10.1.{i // 250 % 250}.{i % 250 + 1}", 30000 + i % 30000)
        server = (f"192.0.2.{i % 20 + 1}", 80)
        frames += tcp_session(client, server, exchanges, start_ts=ts, step=0.0001)
        ts += 0.05
    write_pcap(path, frames)
    return payload


# ---------------------------------------------------------------------------------------------
# (a) replay vs raw Hyperscan


def load_et(rules_dir: Path, cache_dir: Path):
    from services.ips.config import build_engine

    files = sorted(rules_dir.glob("*.rules"))
    cls = rules_dir / "classification.config"
    return build_engine(files, label="et-open", classification=cls if cls.exists() else None, cache_dir=cache_dir)


def fast_patterns(built) -> list[tuple[bytes, bool]]:
    """The prefilter patterns of the loaded signatures (pattern, nocase), deduplicated."""
    seen: set[tuple[bytes, bool]] = set()
    for sig in built.ruleset.signatures:
        fp = sig.fast_pattern
        if fp is not None and fp.pattern:
            seen.add((bytes(fp.pattern), bool(fp.nocase)))
    return sorted(seen)


def raw_hyperscan_rate(patterns: list[tuple[bytes, bool]], payloads: list[bytes], rounds: int) -> tuple[float, int]:
    """Median MB/s of raw Hyperscan block scans over ``payloads``; also the number of matches seen."""
    import hyperscan as hs

    exprs = [b"".join(b"\\x%02x" % c for c in p) for p, _ in patterns]
    flags = [(hs.HS_FLAG_CASELESS if nocase else 0) | hs.HS_FLAG_SINGLEMATCH for _, nocase in patterns]
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs), flags=flags)
    scratch = hs.Scratch(db)
    count = 0

    def on_match(*_a) -> None:
        nonlocal count
        count += 1

    total = sum(len(p) for p in payloads)
    rates = []
    for _ in range(rounds):
        count = 0
        started = time.perf_counter()
        for p in payloads:
            db.scan(p, match_event_handler=on_match, scratch=scratch)
        rates.append(total / (time.perf_counter() - started) / 1e6)
    return statistics.median(rates), count


def replay_rounds(built, frames: list, rounds: int, profile: bool):
    from services.ips.replay import Replayer

    results = []
    for i in range(rounds + (1 if profile else 0)):
        replayer = Replayer(built.engine, None)
        prof = cProfile.Profile() if profile and i == rounds else None
        if prof is not None:
            prof.enable()
        stats = replayer.run(frames)
        if prof is not None:
            prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
            print("\n--- cProfile of one replay round (top 25 by own time) ---")
            print(out.getvalue())
            continue
        results.append(stats)
    return results


# ---------------------------------------------------------------------------------------------
# (b) inline proxy, rules vs no inspection


def sink_server() -> tuple[socket.socket, int]:
    """Reads one HTTP request (headers + Content-Length body) per connection, answers 200."""
    srv = socket.create_server(("127.0.0.1", 0), backlog=64)

    def serve(conn: socket.socket) -> None:
        with conn:
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head, _, rest = buf.partition(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
            got = len(rest)
            while got < length:
                chunk = conn.recv(1 << 20)
                if not chunk:
                    return
                got += len(chunk)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def accept() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return srv, srv.getsockname()[1]


def bulk_upload(port: int, mb: int) -> float:
    """MB/s of one POST of ``mb`` MB of text through the proxy on ``port``."""
    rng = random.Random(3)
    block = (_text(rng, 30000).encode() * 8)[: 1 << 20]
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        started = time.perf_counter()
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: bulk.local\r\nContent-Type: text/plain\r\n"
                  b"Content-Length: %d\r\n\r\n" % (mb << 20))
        for _ in range(mb):
            s.sendall(block)
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
        elapsed = time.perf_counter() - started
    if not answer.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"bulk upload through :{port} failed: {answer[:100]!r}")
    return mb * 1.048576 / elapsed


def start_ips(work: Path, name: str, listeners: list[dict], rules_dir: Path, inspect: bool) -> tuple[subprocess.Popen, int]:
    tenancy = {"tenants": [{"id": "bench", "vpcs": [{"id": "vpc-bench", "firewall": {"ips": True},
                                                     "ips_listeners": listeners}]}]}
    path = work / f"{name}-tenancy.yaml"
    path.write_text(yaml.safe_dump(tenancy))
    admin = free_port()
    cmd = [sys.executable, "-m", "services.ips", "run", "--config", str(path), "--admin-port", str(admin),
           "--kafka", "", "--cache-dir", str(work / "cache"), "--log-level", "WARNING",
           "--rules", str(rules_dir)]
    cls = rules_dir / "classification.config"
    if cls.exists():
        cmd += ["--classification", str(cls)]
    if not inspect:
        cmd.append("--no-inspection")
    with open(work / f"{name}.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    return proc, admin


def wait_ready(proc: subprocess.Popen, admin: int, log: Path, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"IPS exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("IPS not ready in time")


BENIGN_PATHS = ["/", "/index.html", "/static/js/app.js", "/search?q=budget%20report", "/api/v1/items?page=2",
                "/news/2026/11/27/budget-report", "/help/faq?section=permits", "/data/statistics.json"]


def inline_bench(args: argparse.Namespace, work: Path) -> None:
    procs: list[subprocess.Popen] = []
    sink, sink_port = sink_server()
    try:
        up_port = start_upstream(procs)
        targets: dict[str, tuple[int, int]] = {}
        pending = []
        for name, inspect in (("no-inspection", False), ("et-open", True)):
            http_port, bulk_port = free_port(), free_port()
            listeners = [
                {"name": "http", "listen": f"127.0.0.1:{http_port}", "upstream": f"127.0.0.1:{up_port}", "mode": "prevent"},
                {"name": "bulk", "listen": f"127.0.0.1:{bulk_port}", "upstream": f"127.0.0.1:{sink_port}", "mode": "prevent"},
            ]
            proc, admin = start_ips(work, name, listeners, args.rules_dir, inspect)
            procs.append(proc)
            pending.append((proc, admin, work / f"{name}.log"))
            targets[name] = (http_port, bulk_port)
        for proc, admin, log in pending:
            wait_ready(proc, admin, log)
        for http_port, _ in targets.values():
            wait_for_port("127.0.0.1", http_port, timeout=30)
        script = lua_script(work / "benign.lua", BENIGN_PATHS)
        for http_port, _ in targets.values():
            run_wrk(http_port, "demo.local", script, 1, args.connections)
        wrk: dict[str, list] = {k: [] for k in targets}
        bulk: dict[str, list[float]] = {k: [] for k in targets}
        for _ in range(args.rounds):
            for name, (http_port, bulk_port) in targets.items():
                wrk[name].append(parse_wrk(run_wrk(http_port, "demo.local", script, args.duration, args.connections)))
                bulk[name].append(bulk_upload(bulk_port, args.bulk_mb))
        base = "no-inspection"
        base_rps = statistics.median(r[0] for r in wrk[base])
        base_bulk = statistics.median(bulk[base])
        print(f"\n(b) inline proxy: wrk -t1 -c{args.connections} -d{args.duration}s benign GETs to the echo upstream, "
              f"and one {args.bulk_mb} MB POST; median of {args.rounds} rounds")
        print(f"{'proxy':<15} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'req/s ratio':>12} {'bulk MB/s':>10} {'bulk ratio':>11}")
        for name in targets:
            rps = statistics.median(r[0] for r in wrk[name])
            p50 = statistics.median(r[1] for r in wrk[name])
            p99 = statistics.median(r[2] for r in wrk[name])
            mbs = statistics.median(bulk[name])
            print(f"{name:<15} {rps:>9.0f} {p50:>8.2f} {p99:>8.2f} {rps / base_rps:>12.2f} {mbs:>10.1f} {mbs / base_bulk:>11.2f}")
    finally:
        sink.close()
        for p in reversed(procs):
            stop_process(p)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rules-dir", type=Path, default=Path("/work/shared/et-open"))
    ap.add_argument("--flows", type=int, default=300)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--bulk-mb", type=int, default=32)
    ap.add_argument("--skip-inline", action="store_true")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args(argv)
    if not any(args.rules_dir.glob("*.rules")):
        print(f"no *.rules in {args.rules_dir}", file=sys.stderr)
        return 2
    if not args.skip_inline and shutil.which("wrk") is None:
        print("wrk is not installed (Debian package wrk; `make setup` installs it as root)", file=sys.stderr)
        return 2
    from services.ips.layers.pcap import read_pcap

    work = Path(tempfile.mkdtemp(prefix="secchain-bench-ips-"))
    try:
        capture = work / "benign.pcap"
        payload = build_capture(capture, args.flows, args.seed)
        frames = list(read_pcap(capture))
        print(f"bench_ips: {len(frames)} frames, {args.flows} HTTP flows, {payload / 1e6:.2f} MB payload; "
              f"cores={os.cpu_count()}")
        started = time.perf_counter()
        built = load_et(args.rules_dir, work / "cache")
        print(f"ruleset {args.rules_dir}: {built.loaded} signatures loaded, {built.disabled} disabled, "
              f"{len(built.errors)} errors, engine built in {time.perf_counter() - started:.1f} s")
        results = replay_rounds(built, frames, args.rounds, args.profile)
        from services.ips.layers.decode import decode

        payloads = [p.payload for p in (decode(f) for f in frames) if p is not None and p.payload]
        patterns = fast_patterns(built)
        raw_rate, raw_matches = raw_hyperscan_rate(patterns, payloads, args.rounds)
        rate = statistics.median(r.mb_per_s for r in results)
        engine_share = statistics.median(r.engine_seconds / r.seconds for r in results if r.seconds)
        alerts = statistics.median(r.alerts for r in results)
        print(f"\n(a) replay, median of {args.rounds} rounds (payload MB/s)")
        print(f"{'path':<34} {'MB/s':>9} {'ratio':>8}  notes")
        print(f"{'raw Hyperscan, block, fast pats':<34} {raw_rate:>9.1f} {1.0:>8.2f}  {len(patterns)} patterns, "
              f"{raw_matches} pattern hits")
        print(f"{'IPS replay (decode..detect)':<34} {rate:>9.2f} {rate / raw_rate:>8.4f}  {alerts:.0f} alerts, "
              f"engine calls {engine_share:.0%} of the time")
        if not args.skip_inline:
            inline_bench(args, work)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
