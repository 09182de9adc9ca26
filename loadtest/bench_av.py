"""AV scan throughput: ``POST /v1/scan`` against clamd INSTREAM directly, on the same files, in one run.

    python -m loadtest.bench_av [--files 120] [--concurrency 4] [--repeat 3]

Starts Debian's clamd with the core pack (shared/runtime/clamd.py) and two AV services as
``secchain up`` would (``python -m services.av``): one with the verdict cache off, one with it on.
Each round, alternating targets so machine noise hits all alike, sends the same file set (a mix of
4 KiB, 64 KiB and 1 MiB files, text and random, plus generated pack samples) to:

* ``clamd``      clamd INSTREAM straight from this process (the baseline)
* ``av``         /v1/scan with the cache off: clamd + YARA + archive walk + HTTP
* ``av-cached``  /v1/scan after one warm-up pass: the cache-hit path (hash and HTTP only)

and prints medians over rounds of files/s, MB/s and per-file p50/p99 latency, with ratios to ``clamd``.

Then the cost of antivirus to a tenant: the same files uploaded (multipart) through the WAF to two sites
in front of the same echo upstream, one in a VPC with antivirus on (scanned by the cache-off service)
and one with it off, alternating; it prints p50/p99 per upload and the p99 that antivirus adds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from loadtest.stack import start_upstream, start_waf, wait_listening
from services.av.clamd_client import ClamdClient
from services.av.client import AvClient
from services.av.pack import DEFAULT_PACK_DIR, compile_packs
from shared.runtime.clamd import LocalClamd
from shared.runtime.ports import free_port, wait_for_port
from shared.runtime.process import die_with_parent, stop_process

REPO = Path(__file__).resolve().parents[1]


def make_files(count: int) -> list[bytes]:
    sys.path.insert(0, str(REPO))
    from tests.av.samples import SAMPLES  # generated samples, so no malware is stored anywhere

    words = b"the quarterly report lists revenue, costs and headcount per department. "
    sizes = (4 << 10, 64 << 10, 1 << 20)
    files: list[bytes] = []
    samples = list(SAMPLES.values())
    for i in range(count):
        size = sizes[i % len(sizes)]
        if i % 10 == 9:
            files.append(samples[i % len(samples)]() + os.urandom(16))
        elif i % 2:
            files.append(os.urandom(size))
        else:
            files.append((words * (size // len(words) + 1))[:size - 8] + os.urandom(4).hex().encode())
    return files


async def run_round(scan: Callable[[bytes], Awaitable[object]], files: list[bytes], concurrency: int) -> dict[str, float]:
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(data: bytes) -> None:
        async with sem:
            t0 = time.perf_counter()
            await scan(data)
            latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(one(f) for f in files))
    elapsed = time.perf_counter() - started
    latencies.sort()
    total = sum(len(f) for f in files)
    return {"files_s": len(files) / elapsed, "mb_s": total / elapsed / 1e6,
            "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000}


def start_av(port: int, clamd_port: int, db: Path, cache_size: int, log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "services.av", "--port", str(port), "--clamd-port", str(clamd_port),
                             "--database-dir", str(db), "--cache-size", str(cache_size)],
                            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    out.close()
    wait_for_port("127.0.0.1", port, timeout=60)
    return proc


async def bench(files: list[bytes], concurrency: int, repeat: int, clamd_port: int, av_url: str,
                cached_url: str) -> dict[str, list[dict[str, float]]]:
    clamd = ClamdClient(port=clamd_port, timeout=60)
    results: dict[str, list[dict[str, float]]] = {"clamd": [], "av": [], "av-cached": []}
    async with AvClient(av_url, timeout=60) as av, AvClient(cached_url, timeout=60) as cached:
        async def via_clamd(data: bytes) -> object:
            return await clamd.instream([data])

        async def via_av(data: bytes) -> object:
            r = await av.scan(data)
            if r.verdict == "error":
                raise RuntimeError(f"scan error: {r.reason}")
            return r

        async def via_cached(data: bytes) -> object:
            r = await cached.scan(data)
            if not r.cached:
                raise RuntimeError("expected a cache hit: is the cache large enough for the file set?")
            return r

        await run_round(cached.scan, files, concurrency)  # warm the cache
        targets = {"clamd": via_clamd, "av": via_av, "av-cached": via_cached}
        for _ in range(repeat):
            for name, fn in targets.items():
                results[name].append(await run_round(fn, files, concurrency))
    return results


def start_waf_with_av(root: Path, av_url: str) -> tuple[list[subprocess.Popen[bytes]], int]:
    """The WAF in front of the echo upstream: one site in a VPC with antivirus on, one with it off."""
    procs: list[subprocess.Popen[bytes]] = []
    up_port = start_upstream(procs)
    site = {"upstream": f"http://127.0.0.1:{up_port}", "rulesets": ["core"], "max_body_bytes": 8 << 20}
    tenancy = {"tenants": [{"id": "bench", "vpcs": [
        {"id": "vpc-av", "firewall": {"waf": True, "av": True}, "sites": [dict(site, name="av-on", hosts=["av-on.local"])]},
        {"id": "vpc-plain", "firewall": {"waf": True, "av": False}, "sites": [dict(site, name="av-off", hosts=["av-off.local"])]},
    ]}]}
    waf, waf_port = start_waf(root, "waf", tenancy, extra_args=["--av-url", av_url])
    procs.append(waf)
    wait_listening(waf, waf_port, "WAF", root / "waf.log", timeout=120)
    return procs, waf_port


async def bench_waf(files: list[bytes], concurrency: int, repeat: int, waf_port: int) -> dict[str, list[dict[str, float]]]:
    import aiohttp

    results: dict[str, list[dict[str, float]]] = {"waf-av-off": [], "waf-av-on": []}
    async with aiohttp.ClientSession() as session:
        def upload(host: str) -> Callable[[bytes], Awaitable[object]]:
            async def send(data: bytes) -> object:
                form = aiohttp.FormData()
                form.add_field("doc", data, filename="report.bin", content_type="application/octet-stream")
                async with session.post(f"http://127.0.0.1:{waf_port}/upload", data=form,
                                        headers={"Host": host}) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"upload through the WAF to {host} answered {resp.status}")
                return resp.status
            return send

        targets = {"waf-av-off": upload("av-off.local"), "waf-av-on": upload("av-on.local")}
        await run_round(targets["waf-av-off"], files[:10], concurrency)  # warm-up
        for _ in range(repeat):
            for name, fn in targets.items():
                results[name].append(await run_round(fn, files, concurrency))
    return results


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m loadtest.bench_av", description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=120)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args(argv)
    files = make_files(a.files)
    with tempfile.TemporaryDirectory(prefix="bench-av-") as tmp:
        root = Path(tmp)
        compile_packs([DEFAULT_PACK_DIR], root / "db", verify=True)
        clamd = LocalClamd(free_port(), root / "db", root / "clamd")
        clamd.start()
        procs: list[subprocess.Popen[bytes]] = []
        try:
            av_port, cached_port = free_port(), free_port()
            procs.append(start_av(av_port, clamd.port, root / "db", 0, root / "av.log"))
            procs.append(start_av(cached_port, clamd.port, root / "db", 100_000, root / "av-cached.log"))
            results = asyncio.run(bench(files, a.concurrency, a.repeat, clamd.port, f"http://127.0.0.1:{av_port}",
                                        f"http://127.0.0.1:{cached_port}"))
            # Only the text files through the WAF: the pack samples (every 10th) would rightly be refused.
            clean = [f for i, f in enumerate(files) if i % 2 == 0 and i % 10 != 9]
            waf_procs, waf_port = start_waf_with_av(root, f"http://127.0.0.1:{av_port}")
            procs += waf_procs
            waf_results = asyncio.run(bench_waf(clean, a.concurrency, a.repeat, waf_port))
        finally:
            for proc in procs:
                stop_process(proc)
            clamd.stop()
    total_mb = sum(len(f) for f in files) / 1e6
    print(f"{len(files)} files, {total_mb:.1f} MB, concurrency {a.concurrency}, {a.repeat} rounds (medians)")
    print(f"{'target':<10} {'files/s':>9} {'MB/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'files/s vs clamd':>17}")
    base = statistics.median(r["files_s"] for r in results["clamd"])
    for name, rounds in results.items():
        med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        print(f"{name:<10} {med['files_s']:>9.1f} {med['mb_s']:>8.1f} {med['p50_ms']:>8.2f} {med['p99_ms']:>8.2f} "
              f"{med['files_s'] / base:>16.2f}x")
    print()
    print(f"uploads through the WAF (multipart, core pack, same echo upstream), {a.repeat} rounds (medians)")
    print(f"{'target':<12} {'uploads/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    meds = {}
    for name, rounds in waf_results.items():
        meds[name] = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        m = meds[name]
        print(f"{name:<12} {m['files_s']:>9.1f} {m['p50_ms']:>8.2f} {m['p99_ms']:>8.2f}")
    print(f"antivirus adds p50 {meds['waf-av-on']['p50_ms'] - meds['waf-av-off']['p50_ms']:.2f} ms, "
          f"p99 {meds['waf-av-on']['p99_ms'] - meds['waf-av-off']['p99_ms']:.2f} ms per upload")


if __name__ == "__main__":
    main()
