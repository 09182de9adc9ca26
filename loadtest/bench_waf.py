"""WAF throughput and latency against the same load sent straight to the upstream, in one run.

    python -m loadtest.bench_waf [--duration 5] [--connections 32] [--repeat 3] [--workers 1]

Starts a local broker, the demo echo upstream and the WAF (as ``secchain up`` would), then drives
Debian's ``wrk`` at four targets, alternating them each round so machine noise hits all alike:

* ``direct``      the upstream itself (the baseline)
* ``relay``       the WAF with no rules: the cost of the proxy alone
* ``core``        the WAF with the core pack, benign requests
* ``core-mixed``  the WAF with the core pack, 1 request in 10 an attack (answered 403)

and prints medians of requests/s, p50 and p99 latency, and each target's ratio to ``direct``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from shared.runtime.broker import LocalBroker, ensure_topics
from loadtest.stack import start_upstream, start_waf, wait_listening
from shared.runtime.ports import free_port
from shared.runtime.process import stop_process


BENIGN = [
    "/", "/index.html", "/static/js/app.js", "/search?q=O%27Brien%20and%20sons", "/api/v1/items?page=2&sort=name",
    "/products/1234?color=red&size=m", "/news/2026/11/27/budget-report", "/login?next=%2Fdashboard",
    "/api/v1/users/42/orders?from=2026-01-01&to=2026-11-01", "/help/faq?section=shipping",
]
ATTACK = "/?id=1%27%20OR%20%271%27=%271"

LUA = textwrap.dedent("""
    local paths = {%s}
    local i = 0
    request = function()
      i = i + 1
      return wrk.format("GET", paths[(i %% #paths) + 1])
    end
""")


def lua_script(path: Path, paths: list[str]) -> Path:
    path.write_text(LUA % ", ".join('"%s"' % p for p in paths))
    return path


def parse_wrk(out: str) -> tuple[float, float, float, int]:
    """requests/s, p50 ms, p99 ms, non-2xx/3xx count."""
    def ms(value: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s)", value)
        assert m, value
        n = float(m.group(1))
        return {"us": n / 1000, "ms": n, "s": n * 1000}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, p50, p99, int(m.group(1)) if m else 0


def run_wrk(port: int, host: str, script: Path, duration: int, connections: int) -> str:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-H", f"Host: {host}",
           "-s", str(script), f"http://127.0.0.1:{port}"]
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=duration + 60).stdout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian package wrk; `make setup` installs it as root)", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="secchain-bench-waf-"))
    procs: list[subprocess.Popen] = []
    broker = LocalBroker(free_port(), log_path=tmp / "broker.log")
    try:
        broker.start(timeout=60)
        ensure_topics(broker.bootstrap, {"secchain.alerts": 3, "secchain.dlq": 1})
        up_port = start_upstream(procs)
        upstream = f"http://127.0.0.1:{up_port}"
        tenancy = {"tenants": [{"id": "bench", "vpcs": [{"id": "vpc-bench", "sites": [
            {"name": "relay", "hosts": ["relay.local"], "upstream": upstream, "mode": "prevent", "rulesets": []},
            {"name": "core", "hosts": ["core.local"], "upstream": upstream, "mode": "prevent", "rulesets": ["core"]},
        ]}]}]}
        waf, waf_port = start_waf(tmp, "waf", tenancy, kafka=broker.bootstrap, workers=args.workers)
        procs.append(waf)
        wait_listening(waf, waf_port, "WAF", tmp / "waf.log", timeout=120)

        benign = lua_script(tmp / "benign.lua", BENIGN)
        mixed = lua_script(tmp / "mixed.lua", BENIGN[:9] + [ATTACK])
        targets = {
            "direct": (up_port, "demo.local", benign),
            "relay": (waf_port, "relay.local", benign),
            "core": (waf_port, "core.local", benign),
            "core-mixed": (waf_port, "core.local", mixed),
        }
        for port, host, script in targets.values():  # warm-up: connections, caches, JIT-less Python paths
            run_wrk(port, host, script, 1, args.connections)
        results: dict[str, list[tuple[float, float, float, int]]] = {k: [] for k in targets}
        for _ in range(args.repeat):
            for name, (port, host, script) in targets.items():
                results[name].append(parse_wrk(run_wrk(port, host, script, args.duration, args.connections)))

        base_rps = statistics.median(r[0] for r in results["direct"])
        base_p50 = statistics.median(r[1] for r in results["direct"])
        print(f"bench_waf: wrk -t1 -c{args.connections} -d{args.duration}s, median of {args.repeat} rounds, "
              f"WAF workers={args.workers}, cores={os.cpu_count()}")
        print(f"{'target':<12} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'req/s ratio':>12} {'p50 ratio':>10}")
        for name, rows in results.items():
            rps = statistics.median(r[0] for r in rows)
            p50 = statistics.median(r[1] for r in rows)
            p99 = statistics.median(r[2] for r in rows)
            non2xx = statistics.median(r[3] for r in rows)
            print(f"{name:<12} {rps:>9.0f} {p50:>8.2f} {p99:>8.2f} {non2xx:>8.0f} {rps / base_rps:>12.2f} {p50 / base_p50:>10.2f}")
        return 0
    finally:
        for p in reversed(procs):
            stop_process(p)
        broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
