"""Our WAF running OWASP CRS against nginx + ModSecurity v3 running the same CRS, in one run.

    python -m loadtest.bench_waf_crs [--duration 5] [--rounds 3] [--connections 32] [--workers 2] [--no-python]

Targets, all in front of the same demo upstream (aiohttp echo), driven by Debian's ``wrk`` with Lua
scripts that cycle through one request corpus:

* ``modsec``      nginx (2 workers) + libnginx-mod-http-modsecurity + CRS 3.3.4 (Debian), PL1, blocking
* ``ours``        the secchain WAF, site ``rulesets: [crs]`` at PL1, ``mode: prevent``
* ``ours-python`` the same WAF with the pure-Python matching backend instead of Hyperscan
                  (the matching core's share of the time; see ``--no-python``)
* ``relay``       the secchain WAF with no rules (``rulesets: []``): the proxy alone
* ``direct``      the upstream itself

Two corpora: a benign mix (GETs with arguments, form and JSON POSTs, cookies, realistic headers)
and an attack mix (SQLi, XSS, LFI, RCE, scanner, protocol attacks). Before any load, every corpus
request is sent once to every target and the statuses are checked: benign must pass everywhere,
and every attack must be blocked by both CRS engines; otherwise the comparison would not be
honest, and the run stops. Rounds alternate the targets so that machine noise hits all of them
alike; the figures are medians over rounds; ``ours/modsec`` is the ratio of requests/s.

ModSecurity gets the configuration Debian's CRS expects (``owasp-crs.load`` order) plus what
our CRS site prelude sets (request and response body access, XML/JSON body processors), so both
engines inspect the same parts of the same requests.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import yaml

from loadtest.bench_waf import parse_wrk
from loadtest.stack import start_upstream, start_waf, wait_listening
from shared.runtime.ports import free_port
from shared.runtime.process import die_with_parent, stop_process

CRS_SETUP = Path("/etc/modsecurity/crs/crs-setup.conf")
CRS_RULES = Path("/usr/share/modsecurity-crs/rules")
MODSEC_MODULE = Path("/usr/share/nginx/modules/ngx_http_modsecurity_module.so")

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
BASE_HEADERS = {"User-Agent": UA, "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                "Accept-Language": "en-GB,en;q=0.5", "Accept-Encoding": "gzip, deflate"}


@dataclass(frozen=True)
class Req:
    method: str
    path: str
    body: str = ""
    content_type: str = ""
    cookie: str = ""


BENIGN = [
    Req("GET", "/search?q=budget+report&page=2&sort=date"),
    Req("GET", "/api/v1/items?category=books&limit=20&offset=40"),
    Req("GET", "/products/1234?color=red&size=m&ref=homepage", cookie="session=ab12cd34ef56; lang=en"),
    Req("GET", "/news/2026/11/27/spending-review?utm_source=newsletter&utm_medium=email&utm_campaign=nov"),
    Req("GET", "/static/css/site.css"),
    Req("POST", "/login", "username=j.smith&password=Winter2026%21&remember=on",
        "application/x-www-form-urlencoded"),
    Req("POST", "/api/v1/orders", '{"item": 1234, "quantity": 2, "note": "leave at the front desk"}',
        "application/json"),
    Req("GET", "/api/v1/users/42/orders?from=2026-01-01&to=2026-11-01&status=shipped"),
    Req("POST", "/contact", "name=Jane+Doe&email=jane.doe%40example.org&message=Hello%2C+when+do+you+open%3F",
        "application/x-www-form-urlencoded"),
    Req("GET", "/help/faq?topic=shipping&lang=en"),
]

ATTACK = [
    Req("GET", "/search?q=1%27%20UNION%20SELECT%20username,password%20FROM%20users--"),
    Req("GET", "/item?id=1%20OR%201=1"),
    Req("GET", "/comment?text=%3Cscript%3Ealert(document.cookie)%3C/script%3E"),
    Req("GET", "/page?file=../../../../etc/passwd"),
    Req("GET", "/run?cmd=;cat%20/etc/passwd"),
    Req("POST", "/login", "username=admin%27--&password=x%27%20or%20%271%27=%271",
        "application/x-www-form-urlencoded"),
    Req("POST", "/api/v1/notes", '{"note": "<img src=x onerror=alert(1)>"}', "application/json"),
    Req("GET", "/index.php?page=php://filter/convert.base64-encode/resource=index"),
    Req("GET", "/?q=%3Csvg/onload=alert(1)%3E"),
    Req("GET", "/download?path=..%2f..%2f..%2fwindows%2fwin.ini"),
]

LUA = textwrap.dedent("""\
    local reqs = {}
    %s
    local i = 0
    request = function()
      i = i + 1
      return reqs[(i %% #reqs) + 1]
    end
""")


def _lua_str(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for ASCII text


def lua_script(path: Path, reqs: list[Req]) -> Path:
    lines = []
    for r in reqs:
        headers = dict(BASE_HEADERS)
        if r.content_type:
            headers["Content-Type"] = r.content_type
        if r.cookie:
            headers["Cookie"] = r.cookie
        h = ", ".join(f"[{_lua_str(k)}] = {_lua_str(v)}" for k, v in headers.items())
        body = _lua_str(r.body) if r.body else "nil"
        lines.append(f"reqs[#reqs + 1] = wrk.format({_lua_str(r.method)}, {_lua_str(r.path)}, {{{h}}}, {body})")
    path.write_text(LUA % "\n".join(lines))
    return path


def modsecurity_conf(tmp: Path) -> Path:
    setup_dir = CRS_SETUP.parent
    text = textwrap.dedent(f"""\
        # Written by loadtest.bench_waf_crs for one benchmark run.
        SecRuleEngine On
        SecRequestBodyAccess On
        SecRequestBodyLimit 13107200
        SecRequestBodyNoFilesLimit 131072
        SecRequestBodyLimitAction Reject
        SecResponseBodyAccess On
        SecResponseBodyMimeType text/plain text/html text/xml application/json
        SecResponseBodyLimit 524288
        SecResponseBodyLimitAction ProcessPartial
        SecRule REQUEST_HEADERS:Content-Type "@rx ^(?:application(?:/soap\\+|/)|text/)xml" \\
            "id:1190001,phase:1,pass,nolog,t:none,t:lowercase,ctl:requestBodyProcessor=XML"
        SecRule REQUEST_HEADERS:Content-Type "@rx ^application/(?:[a-z0-9.+-]+\\+)?json" \\
            "id:1190002,phase:1,pass,nolog,t:none,t:lowercase,ctl:requestBodyProcessor=JSON"
        SecTmpDir {tmp}
        SecDataDir {tmp}
        SecAuditEngine Off
        SecArgumentSeparator &
        SecCookieFormat 0
        SecStatusEngine Off
        Include {CRS_SETUP}
        """)
    before = setup_dir / "REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf"
    after = setup_dir / "RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf"
    if before.is_file():
        text += f"Include {before}\n"
    text += f"Include {CRS_RULES}/*.conf\n"
    if after.is_file():
        text += f"Include {after}\n"
    path = tmp / "modsecurity.conf"
    path.write_text(text)
    return path


def nginx_conf(tmp: Path, port: int, upstream_port: int, modsec: Path, workers: int) -> Path:
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / d).mkdir(exist_ok=True)
    text = textwrap.dedent(f"""\
        load_module {MODSEC_MODULE};
        worker_processes {workers};
        daemon off;
        master_process on;
        pid {tmp}/nginx.pid;
        error_log {tmp}/nginx-error.log warn;
        events {{ worker_connections 4096; }}
        http {{
            access_log off;
            client_body_temp_path {tmp}/body;
            proxy_temp_path {tmp}/proxy;
            fastcgi_temp_path {tmp}/fastcgi;
            uwsgi_temp_path {tmp}/uwsgi;
            scgi_temp_path {tmp}/scgi;
            upstream echo {{ server 127.0.0.1:{upstream_port}; keepalive 64; }}
            server {{
                listen 127.0.0.1:{port};
                modsecurity on;
                modsecurity_rules_file {modsec};
                location / {{
                    proxy_pass http://echo;
                    proxy_http_version 1.1;
                    proxy_set_header Connection "";
                    proxy_set_header Host $host;
                }}
            }}
        }}
        """)
    path = tmp / "nginx.conf"
    path.write_text(text)
    return path


def send_once(port: int, host: str, r: Req) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = dict(BASE_HEADERS, Host=host)
        if r.content_type:
            headers["Content-Type"] = r.content_type
        if r.cookie:
            headers["Cookie"] = r.cookie
        conn.request(r.method, r.path, body=r.body.encode() if r.body else None, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def run_wrk(port: int, host: str, script: Path, duration: int, connections: int) -> tuple[str, int]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-H", f"Host: {host}",
           "-s", str(script), f"http://127.0.0.1:{port}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    import re

    m = re.search(r"(\d+) requests in", out)
    return out, int(m.group(1)) if m else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2, help="our WAF's workers (nginx runs 2)")
    ap.add_argument("--no-python", action="store_true", help="skip the pure-Python matching backend target")
    args = ap.parse_args(argv)
    for tool, pkg in (("wrk", "wrk"), ("nginx", "nginx")):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            print(f"{tool} is not installed (Debian package {pkg})", file=sys.stderr)
            return 2
    if not MODSEC_MODULE.exists() or not CRS_SETUP.exists():
        print("need libnginx-mod-http-modsecurity and modsecurity-crs (Debian)", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="secchain-bench-crs-"))
    procs: list[subprocess.Popen] = []
    try:
        up_port = start_upstream(procs)
        upstream = f"http://127.0.0.1:{up_port}"
        tenancy = {"tenants": [{"id": "bench", "vpcs": [{"id": "vpc-bench", "sites": [
            {"name": "relay", "hosts": ["relay.local"], "upstream": upstream, "mode": "prevent", "rulesets": []},
            {"name": "crs", "hosts": ["crs.local"], "upstream": upstream, "mode": "prevent", "rulesets": ["crs"],
             "crs": {"paranoia_level": 1, "inbound_threshold": 5, "outbound_threshold": 4}},
        ]}]}]}
        tenancy_path = tmp / "tenancy.yaml"
        tenancy_path.write_text(yaml.safe_dump(tenancy))

        ngx_port = free_port()
        conf = nginx_conf(tmp, ngx_port, up_port, modsecurity_conf(tmp), workers=2)
        nginx = subprocess.Popen(["nginx", "-e", str(tmp / "nginx-error.log"), "-p", str(tmp), "-c", str(conf)],
                                 preexec_fn=die_with_parent, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        procs.append(nginx)
        waf, waf_port = start_waf(tmp, "waf", tenancy_path, workers=args.workers)
        procs.append(waf)
        print("loading CRS in nginx + ModSecurity and in our WAF...", file=sys.stderr)
        wait_listening(nginx, ngx_port, "nginx", tmp / "nginx-error.log")
        wait_listening(waf, waf_port, "WAF", tmp / "waf.log")
        py_port = None
        if not args.no_python:
            env = dict(os.environ, SECCHAIN_MATCHING_BACKEND="python")
            py, py_port = start_waf(tmp, "waf-python", tenancy_path, workers=args.workers, env=env)
            procs.append(py)
            print("loading CRS with the pure-Python matching backend (slow to compile)...", file=sys.stderr)
            wait_listening(py, py_port, "WAF (python backend)", tmp / "waf-python.log", timeout=1800)

        targets = {  # name: (port, Host, corpus)
            "modsec": (ngx_port, "crs.local", "benign"),
            "ours": (waf_port, "crs.local", "benign"),
            "relay": (waf_port, "relay.local", "benign"),
            "direct": (up_port, "crs.local", "benign"),
            "modsec-attack": (ngx_port, "crs.local", "attack"),
            "ours-attack": (waf_port, "crs.local", "attack"),
        }
        if py_port is not None:
            targets["ours-python"] = (py_port, "crs.local", "benign")

        # Honesty check: benign passes everywhere, every attack is blocked by both CRS engines.
        problems = []
        for name, (port, host, corpus) in targets.items():
            for r in (BENIGN if corpus == "benign" else ATTACK):
                status = send_once(port, host, r)
                blocking = name in ("modsec-attack", "ours-attack")
                if blocking and status < 400:
                    problems.append(f"{name}: attack not blocked ({status}): {r.method} {r.path} {r.body}")
                if not blocking and status != 200:
                    problems.append(f"{name}: benign request answered {status}: {r.method} {r.path} {r.body}")
        if problems:
            print("corpus check failed; the comparison would not be fair:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        print(f"corpus check: {len(BENIGN)} benign requests pass on every target; "
              f"{len(ATTACK)} attacks blocked by ModSecurity and by ours", file=sys.stderr)

        scripts = {"benign": lua_script(tmp / "benign.lua", BENIGN), "attack": lua_script(tmp / "attack.lua", ATTACK)}
        results: dict[str, list[tuple[float, float, float, int, int]]] = {n: [] for n in targets}
        for rnd in range(args.rounds):
            order = list(targets) if rnd % 2 == 0 else list(reversed(targets))
            for name in order:
                port, host, corpus = targets[name]
                out, total = run_wrk(port, host, scripts[corpus], args.duration, args.connections)
                rps, p50, p99, non2xx = parse_wrk(out)
                results[name].append((rps, p50, p99, non2xx, total))
                print(f"round {rnd + 1} {name:14s} {rps:9.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
                      f"non-2xx {non2xx}/{total}", file=sys.stderr)

        def med(name: str, i: int) -> float:
            return statistics.median(r[i] for r in results[name])

        print(f"\nmedians over {args.rounds} rounds of {args.duration} s, {args.connections} connections, "
              f"our WAF {args.workers} workers, nginx 2 workers, CRS PL1 blocking:")
        print(f"{'target':16s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} {'non-2xx':>9s}")
        for name in targets:
            non2xx = sum(r[3] for r in results[name])
            total = sum(r[4] for r in results[name])
            print(f"{name:16s} {med(name, 0):9.0f} {med(name, 1):8.2f} {med(name, 2):8.2f} {non2xx:>5d}/{total}")
        def ratio(a: str, b: str) -> str:
            # Ratio of medians, and the median of same-round ratios (the two ran seconds apart, so
            # machine noise mostly cancels within a round).
            per_round = statistics.median(x[0] / y[0] for x, y in zip(results[a], results[b]))
            return f"{med(a, 0) / med(b, 0):.2f}  (median of per-round ratios {per_round:.2f})"

        print(f"ours/modsec (benign)         {ratio('ours', 'modsec')}")
        print(f"ours/modsec (attack)         {ratio('ours-attack', 'modsec-attack')}")
        print(f"ours/relay  (benign)         {ratio('ours', 'relay')}")
        if py_port is not None:
            print(f"hyperscan/python backend     {ratio('ours', 'ours-python')}")
        for name in ("modsec-attack", "ours-attack"):
            non2xx = sum(r[3] for r in results[name])
            total = sum(r[4] for r in results[name])
            if total and non2xx < total:
                print(f"WARNING: {name}: only {non2xx} of {total} attack requests were blocked")
        return 0
    finally:
        for proc in reversed(procs):
            stop_process(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
