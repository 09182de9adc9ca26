"""``secchain up``: the whole chain on one machine under one supervisor.

Starts, in order, the local Kafka-protocol broker (unless ``--kafka`` names one), the demo
upstream, the audit indexer, the API, the antivirus, the WAF and the IPS, each as its own process
that dies with the supervisor; waits until each answers ``/readyz``; prints the URLs, the demo keys and a curl line;
restarts a component that crashes (with back-off); and on Ctrl-C or SIGTERM stops everything,
newest first, leaving no process behind.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from shared.config.tenancy import hash_key
from shared.runtime.ports import wait_for_port
from shared.runtime.process import die_with_parent, env_with_unbuffered, stop_process

log = logging.getLogger("secchain.up")
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Ports:
    api: int = 8000
    waf: int = 8080
    waf_admin: int = 8180
    upstream: int = 8081
    kafka: int = 9092
    indexer: int = 8190
    av: int = 8090
    clamd: int = 3310
    ips: int = 9000
    ips_admin: int = 9180


@dataclass
class Component:
    name: str
    cmd: list[str]
    ready_url: str | None = None
    ready_port: int | None = None
    proc: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)


@dataclass
class DemoKeys:
    provider_admin: str
    tenant_admin: str
    analyst: str


def write_demo_tenancy(path: Path, upstream_port: int, ips_port: int = 9000) -> DemoKeys:
    """The demo tenant: one VPC, the site demo.local in prevent mode with our core pack, fresh keys."""
    keys = DemoKeys(*(f"sk_{secrets.token_urlsafe(24)}" for _ in range(3)))
    doc = {
        "tenants": [{
            "id": "demo",
            "name": "Demo department",
            "vpcs": [{
                "id": "vpc-demo",
                "firewall": {"waf": True, "ips": True, "av": True},
                "sites": [{
                    "name": "demo-site",
                    "hosts": ["demo.local"],
                    "upstream": f"http://127.0.0.1:{upstream_port}",
                    "mode": "prevent",
                    "rulesets": ["core"],
                    "av_fail_policy": "closed",
                }],
                "ips_listeners": [{
                    "name": "demo-tcp",
                    "listen": f"127.0.0.1:{ips_port}",
                    "upstream": f"127.0.0.1:{upstream_port}",
                    "mode": "prevent",
                    "rulesets": ["core"],
                    "vars": {"HOME_NET": "[127.0.0.0/8]", "EXTERNAL_NET": "any", "HTTP_PORTS": f"[80,8080,{ips_port}]"},
                }],
            }],
        }],
        "api_keys": [
            {"id": "provider-admin", "role": "provider-admin", "sha256": hash_key(keys.provider_admin)},
            {"id": "demo-admin", "tenant": "demo", "role": "tenant-admin", "sha256": hash_key(keys.tenant_admin)},
            {"id": "demo-analyst", "tenant": "demo", "role": "analyst", "sha256": hash_key(keys.analyst)},
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# written by `secchain up`; keys are stored as SHA-256 only\n" + yaml.safe_dump(doc, sort_keys=False))
    return keys


class Supervisor:
    def __init__(self, *, data_dir: Path, ports: Ports, tenancy: Path, store_url: str,
                 kafka: str | None = None, workers: int = 1, log_level: str = "INFO",
                 demo_upstream: bool = True, rules_root: Path | None = None,
                 ips_rules_root: Path | None = None, control_plane: bool = False) -> None:
        self.data_dir = data_dir
        # control_plane: the API serves the control plane (data_dir/control.db), the demo tenant
        # is made through it after the API is up, and the WAF follows its snapshots.
        self.control_plane = control_plane
        self.demo_keys: DemoKeys | None = None
        self.ports = ports
        self.tenancy = tenancy
        self.store_url = store_url
        self.external_kafka = kafka
        self.workers = workers
        self.log_level = log_level
        self.demo_upstream = demo_upstream
        self.rules_root = rules_root or REPO_ROOT / "rules" / "waf"
        self.ips_rules_root = ips_rules_root or REPO_ROOT / "rules" / "ips"
        self.broker = None
        self.clamd = None
        self.components: list[Component] = []
        self.log_dir = data_dir / "logs"

    @property
    def bootstrap(self) -> str:
        return self.external_kafka or f"127.0.0.1:{self.ports.kafka}"

    def _specs(self) -> list[Component]:
        py = [sys.executable, "-m"]
        lvl = ["--log-level", self.log_level]
        specs = []
        if self.demo_upstream:
            specs.append(Component("upstream", py + ["services.demo_upstream", "--port", str(self.ports.upstream)],
                                   ready_port=self.ports.upstream))
        specs.append(Component(
            "indexer",
            py + ["services.indexer", "--kafka", self.bootstrap, "--store", self.store_url,
                  "--http-port", str(self.ports.indexer)] + lvl,
            ready_url=f"http://127.0.0.1:{self.ports.indexer}/readyz"))
        specs.append(Component(
            "api",
            py + ["services.api", "--port", str(self.ports.api)] + self._api_config() + [
                  "--store", self.store_url] + lvl,
            ready_url=f"http://127.0.0.1:{self.ports.api}/readyz"))
        specs.append(Component(
            "av",
            py + ["services.av", "--port", str(self.ports.av), "--clamd-port", str(self.ports.clamd),
                  "--database-dir", str(self.data_dir / "av-db"), "--spool-dir", str(self.data_dir / "av-tmp")],
            ready_url=f"http://127.0.0.1:{self.ports.av}/readyz"))
        specs.append(Component(
            "waf",
            py + ["services.waf", "--port", str(self.ports.waf), "--admin-port", str(self.ports.waf_admin),
                  *self._dataplane_config(), "--kafka", self.bootstrap,
                  "--rules-root", str(self.rules_root),
                  "--spool-dir", str(self.data_dir / "spool" / "waf"),
                  "--cache-dir", str(self.data_dir / "cache" / "matching"),
                  "--av-url", f"http://127.0.0.1:{self.ports.av}",
                  "--bundles-dir", str(self.data_dir / "bundles"),
                  "--shadow-db", str(self.data_dir / "shadow" / "waf.db"),
                  "--workers", str(self.workers)] + lvl,
            ready_url=f"http://127.0.0.1:{self.ports.waf_admin}/readyz"))
        specs.append(Component(
            "ips",
            py + ["services.ips", "run", *self._dataplane_config(), "--admin-port", str(self.ports.ips_admin),
                  "--kafka", self.bootstrap, "--rules-root", str(self.ips_rules_root),
                  "--spool-dir", str(self.data_dir / "spool" / "ips"),
                  "--cache-dir", str(self.data_dir / "cache" / "matching"),
                  "--eve", str(self.log_dir / "eve.json"),
                  "--shadow-db", str(self.data_dir / "shadow" / "ips.db")] + lvl,
            ready_url=f"http://127.0.0.1:{self.ports.ips_admin}/readyz"))
        return specs

    def _api_config(self) -> list[str]:
        if not self.control_plane:
            return ["--tenancy", str(self.tenancy)]
        return ["--control-db", f"sqlite:///{self.data_dir / 'control.db'}",
                "--bootstrap-key-file", str(self.data_dir / "bootstrap.key")]

    def _dataplane_config(self) -> list[str]:
        """How a data-plane service (WAF, IPS) gets its configuration: a file, or the control plane."""
        if not self.control_plane:
            return ["--tenancy", str(self.tenancy)]
        return ["--control-url", f"http://127.0.0.1:{self.ports.api}",
                "--control-key-file", str(self.data_dir / "dataplane.key")]

    def _seed_demo(self) -> None:
        from services.control.seed import seed_demo

        secrets_ = seed_demo(f"http://127.0.0.1:{self.ports.api}", (self.data_dir / "bootstrap.key").read_text().strip(),
                             upstream_port=self.ports.upstream, ips_port=self.ports.ips,
                             dataplane_key_file=self.data_dir / "dataplane.key", tenancy_export=self.tenancy)
        self.demo_keys = DemoKeys(**secrets_)
        log.info("demo tenant created through the control-plane API")

    def _spawn(self, comp: Component) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        logfile = open(self.log_dir / f"{comp.name}.log", "ab")
        comp.proc = subprocess.Popen(comp.cmd, stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=REPO_ROOT, env=env_with_unbuffered(), preexec_fn=die_with_parent)
        logfile.close()

    def _wait_ready(self, comp: Component, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert comp.proc is not None
            if comp.proc.poll() is not None:
                raise RuntimeError(f"{comp.name} exited with code {comp.proc.returncode}; "
                                   f"see {self.log_dir / (comp.name + '.log')}:\n{self._tail(comp)}")
            if comp.ready_port is not None:
                try:
                    wait_for_port("127.0.0.1", comp.ready_port, timeout=0.2)
                    return
                except TimeoutError:
                    continue
            try:
                with urllib.request.urlopen(comp.ready_url, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{comp.name} not ready after {timeout:.0f} s; see {self.log_dir / (comp.name + '.log')}")

    def _tail(self, comp: Component, lines: int = 15) -> str:
        try:
            text = (self.log_dir / f"{comp.name}.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self, timeout: float = 90.0) -> None:
        from shared.runtime.broker import LocalBroker, ensure_topics

        try:
            if self.external_kafka is None:
                self.broker = LocalBroker(self.ports.kafka, log_path=self.log_dir / "broker.log")
                self.broker.start(timeout=timeout)
            ensure_topics(self.bootstrap, {"secchain.alerts": 3, "secchain.dlq": 1})
            self._start_clamd(timeout)
            for comp in self._specs():
                self._spawn(comp)
                self.components.append(comp)
                self._wait_ready(comp, timeout)
                if comp.name == "api" and self.control_plane and self.demo_keys is None:
                    self._seed_demo()
                log.info("%s ready", comp.name)
        except BaseException:
            self.stop()
            raise

    def _start_clamd(self, timeout: float) -> None:
        """Compile our AV packs into clamd's database folder and start Debian's clamd on it."""
        from services.av.pack import DEFAULT_PACK_DIR, compile_packs
        from shared.runtime.clamd import LocalClamd

        database = self.data_dir / "av-db"
        compile_packs([DEFAULT_PACK_DIR], database)
        (self.data_dir / "av-tmp").mkdir(parents=True, exist_ok=True)
        self.clamd = LocalClamd(self.ports.clamd, database, self.data_dir / "clamd")
        (self.data_dir / "clamd").mkdir(parents=True, exist_ok=True)
        self.clamd.start(timeout=timeout)
        log.info("clamd ready on 127.0.0.1:%d", self.ports.clamd)

    def poll(self) -> None:
        """Restart a component that died, at most 5 times a minute."""
        for comp in self.components:
            if comp.proc is not None and comp.proc.poll() is not None:
                now = time.monotonic()
                comp.restarts = [t for t in comp.restarts if now - t < 60] + [now]
                if len(comp.restarts) > 5:
                    raise RuntimeError(f"{comp.name} keeps crashing; last lines:\n{self._tail(comp)}")
                log.warning("%s exited with code %s; restarting", comp.name, comp.proc.returncode)
                self._spawn(comp)

    def stop(self) -> None:
        for comp in reversed(self.components):
            if comp.proc is not None:
                stop_process(comp.proc, grace=15.0)
        self.components.clear()
        if self.clamd is not None:
            self.clamd.stop()
            self.clamd = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None


def banner(sup: Supervisor, keys: DemoKeys | None) -> str:
    p = sup.ports
    lines = [
        "",
        "secchain is up.",
        f"  WAF            http://127.0.0.1:{p.waf}/   (site demo.local -> demo upstream :{p.upstream})",
        f"  WAF admin      http://127.0.0.1:{p.waf_admin}/readyz  /metrics  POST /reload",
        f"  Audit API      http://127.0.0.1:{p.api}/v1/alerts",
        f"  Control plane  http://127.0.0.1:{p.api}/v1/tenants   (OpenAPI /v1/openapi.json; CLI: secchain tenants|vpcs|sites ...)",
        f"  Indexer        http://127.0.0.1:{p.indexer}/metrics",
        f"  Antivirus      http://127.0.0.1:{p.av}/v1/scan   (clamd 127.0.0.1:{p.clamd}, YARA; uploads to demo.local)",
        f"  IPS            tcp://127.0.0.1:{p.ips} -> demo upstream :{p.upstream}   (admin http://127.0.0.1:{p.ips_admin}/readyz, EVE {sup.log_dir}/eve.json)",
        f"  Kafka          {sup.bootstrap}",
        f"  Audit store    {sup.store_url}",
        f"  Logs           {sup.log_dir}/",
    ]
    if keys is not None:
        lines += [
            "",
            "Demo API keys (new every run):",
            f"  analyst (tenant demo)       {keys.analyst}",
            f"  tenant-admin (tenant demo)  {keys.tenant_admin}",
            f"  provider-admin              {keys.provider_admin}",
            "",
            "Try it:",
            f"  curl -i -H 'Host: demo.local' 'http://127.0.0.1:{p.waf}/?id=1%27%20OR%20%271%27=%271'   # 403",
            f"  curl -i -H 'Host: demo.local' 'http://127.0.0.1:{p.waf}/hello?name=world'               # 200",
            f"  curl -i -H 'Host: demo.local' -F 'doc=@some-file.pdf' 'http://127.0.0.1:{p.waf}/upload'       # scanned",
            f"  curl -s -H 'Authorization: Bearer {keys.analyst}' 'http://127.0.0.1:{p.api}/v1/alerts?from=now-15m'",
            f"  SECCHAIN_API_URL=http://127.0.0.1:{p.api} SECCHAIN_API_KEY={keys.tenant_admin} secchain sites list demo vpc-demo",
        ]
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)


def run_up(args) -> int:
    data_dir = Path(args.data_dir).resolve()
    ports = Ports(api=args.api_port, waf=args.waf_port, waf_admin=args.waf_admin_port,
                  upstream=args.upstream_port, kafka=args.kafka_port, indexer=args.indexer_port,
                  av=args.av_port, clamd=args.clamd_port, ips=args.ips_port, ips_admin=args.ips_admin_port)
    demo = not args.tenancy
    if args.tenancy:
        tenancy = Path(args.tenancy).resolve()
    else:
        # A fresh demo control plane every run (new keys, as before); the tenancy file is the
        # control plane's export, for the components that read a file.
        tenancy = data_dir / "tenancy.yaml"
        data_dir.mkdir(parents=True, exist_ok=True)
        for name in ("control.db", "control.db-wal", "control.db-shm", "bootstrap.key", "dataplane.key"):
            (data_dir / name).unlink(missing_ok=True)
    if args.store == "opensearch":
        if not args.opensearch_url:
            print("--store opensearch needs --opensearch-url URL", file=sys.stderr)
            return 2
        store_url = "opensearch+" + args.opensearch_url
    else:
        store_url = f"sqlite:///{data_dir / 'audit.db'}"
    sup = Supervisor(data_dir=data_dir, ports=ports, tenancy=tenancy, store_url=store_url,
                     kafka=args.kafka, workers=args.workers, log_level=args.log_level, control_plane=demo)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.monotonic()
    try:
        sup.start()
        keys = sup.demo_keys
        if keys is not None:
            keyfile = data_dir / "demo-keys.json"
            keyfile.write_text(json.dumps(keys.__dict__, indent=2))
            os.chmod(keyfile, 0o600)
        print(banner(sup, keys) + f"\n(started in {time.monotonic() - started:.1f} s)", flush=True)
        while not stopping:
            time.sleep(0.5)
            if not stopping:
                sup.poll()
    except Exception as exc:
        print(f"secchain up failed: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        print("stopping...", flush=True)
        sup.stop()
        print("stopped.", flush=True)
    return 0
