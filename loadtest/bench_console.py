"""SOC console load times over a large SQLite store: the API calls behind each view, and the time
to first render in headless Chromium.

    python -m loadtest.seed_alerts var/audit-1m.db --alerts 1000000     # once (minutes)
    python -m loadtest.bench_console var/audit-1m.db [--loads 20] [--no-browser]

Starts the API service (``python -m services.api``, as ``secchain up`` does) on the store, with a
tenant analyst key (tenant ``acme``, about half the alerts) and a provider-admin key (all tenants),
then for each view and time range times ``--loads`` loads after one warm-up and prints p50 and
p95 in milliseconds:

* list      ``GET /v1/alerts?size=50`` (the page and its total count)
* overview  ``GET /v1/alerts/stats?top=10`` (total, histogram, top rules, sources and targets)
* groups    ``GET /v1/alerts/groups?by=rule,source``
* render    Chromium: navigation start to the list's first row / the overview's top rules drawn

The target is under 300 ms for each API call behind the list and the overview.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

from shared.config.tenancy import hash_key
from shared.runtime.ports import free_port, wait_for_port
from shared.runtime.process import die_with_parent

REPO = Path(__file__).resolve().parents[1]
KEYS = {"acme": "bench-acme-analyst", "provider": "bench-provider"}
RANGES = ("now-24h", "now-7d")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def _get(url: str, key: str) -> float:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as resp:
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{url}: HTTP {resp.status}")
    return (time.perf_counter() - started) * 1000


def bench_api(base: str, loads: int) -> list[tuple[str, float, float]]:
    calls = {
        "list": "/v1/alerts?from={r}&size=50",
        "list, status=open": "/v1/alerts?from={r}&size=50&status=open",
        "overview": "/v1/alerts/stats?from={r}&top=10",
        "overview, status=open": "/v1/alerts/stats?from={r}&top=10&status=open",
        "groups": "/v1/alerts/groups?from={r}&by=rule,source&size=200",
    }
    results = []
    for who, key in KEYS.items():
        for name, path in calls.items():
            for r in RANGES:
                url = base + path.format(r=r)
                _get(url, key)  # warm-up: first touch of the pages this query reads
                samples = [_get(url, key) for _ in range(loads)]
                p50, p95 = _percentiles(samples)
                results.append((f"{name:<21} {who:<8} from={r}", p50, p95))
    return results


def bench_render(base: str, loads: int) -> list[tuple[str, float, float]]:
    from playwright.sync_api import sync_playwright

    views = {"list": ("#/alerts?from={r}", "#alerts tbody tr[data-event-id]"),
             "overview": ("#/overview?from={r}", "#top-rules li")}
    results = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            context.add_init_script(f"sessionStorage.setItem('secchain.apiKey', {KEYS['acme']!r});")
            page = context.new_page()
            for name, (fragment, selector) in views.items():
                for r in RANGES:
                    url = f"{base}/console/{fragment.format(r=r)}"
                    samples = []
                    for i in range(loads + 1):
                        page.goto("about:blank")
                        page.goto(url)
                        page.wait_for_selector(selector, timeout=60_000)
                        # From the navigation's start (performance.timeOrigin) to the view drawn.
                        elapsed = page.evaluate("performance.now()")
                        if i:
                            samples.append(elapsed)
                    p50, p95 = _percentiles(samples)
                    results.append((f"render {name:<14} acme     from={r}", p50, p95))
        finally:
            browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.bench_console", description=__doc__.split("\n\n")[0])
    parser.add_argument("db", type=Path, help="SQLite store seeded by loadtest.seed_alerts")
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--no-browser", action="store_true", help="API calls only")
    args = parser.parse_args(argv)
    if not args.db.exists():
        parser.error(f"{args.db} does not exist; seed it first: python -m loadtest.seed_alerts {args.db}")
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        tenancy = Path(tmp) / "tenancy.yaml"
        tenancy.write_text(yaml.safe_dump({
            "tenants": [{"id": "acme"}, {"id": "beta"}, {"id": "gamma"}],
            "api_keys": [{"id": "acme-analyst", "tenant": "acme", "role": "analyst", "sha256": hash_key(KEYS["acme"])},
                         {"id": "provider", "role": "provider-admin", "sha256": hash_key(KEYS["provider"])}]}))
        port = free_port()
        api = subprocess.Popen([sys.executable, "-m", "services.api", "--port", str(port), "--tenancy", str(tenancy),
                                "--store", f"sqlite://{args.db.resolve()}", "--log-level", "WARNING"], cwd=REPO,
                               preexec_fn=die_with_parent)
        try:
            wait_for_port("127.0.0.1", port, timeout=120)
            base = f"http://127.0.0.1:{port}"
            with urllib.request.urlopen(urllib.request.Request(
                    base + "/v1/alerts?size=1", headers={"Authorization": f"Bearer {KEYS['provider']}"})) as resp:
                total = yaml.safe_load(resp.read())["total"]
            print(f"store {args.db}: {total:,} alerts; {args.loads} loads per line after one warm-up")
            results = bench_api(base, args.loads)
            if not args.no_browser:
                results += bench_render(base, args.loads)
        finally:
            api.terminate()
            api.wait(timeout=30)
    print(f"{'what':<44} {'p50 ms':>8} {'p95 ms':>8}")
    for name, p50, p95 in results:
        flag = "" if name.startswith(("render", "groups")) or p95 < 300 else "  > 300 ms target"
        print(f"{name:<44} {p50:>8.1f} {p95:>8.1f}{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
