"""`secchain up` as an operator runs it: banner with keys, attack blocked and searchable, clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from shared.runtime.ports import free_port


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_up_runs_the_chain_and_stops_cleanly(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("api", "waf", "waf-admin", "upstream", "kafka", "indexer", "av", "clamd",
                                             "ips", "ips-admin")}
    cmd = [sys.executable, "-m", "services.cli", "up", "--data-dir", str(tmp_path), "--workers", "2"]
    for name, port in ports.items():
        cmd += [f"--{name}-port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    output = ""
    try:
        deadline = time.monotonic() + 100
        while "Press Ctrl-C" not in output:
            assert time.monotonic() < deadline, f"secchain up did not come up in time:\n{output}"
            assert proc.poll() is None, f"secchain up exited:\n{output}"
            time.sleep(0.2)
            output = "".join(lines)
        analyst = re.search(r"analyst \(tenant demo\)\s+(\S+)", output).group(1)
        assert f"http://127.0.0.1:{ports['waf']}/" in output
        assert json.loads((tmp_path / "demo-keys.json").read_text())["analyst"] == analyst

        attack = urllib.request.Request(
            f"http://127.0.0.1:{ports['waf']}/?id=1%27%20OR%20%271%27=%271", headers={"Host": "demo.local"})
        try:
            urllib.request.urlopen(attack, timeout=10)
            raise AssertionError("the attack was not blocked")
        except urllib.error.HTTPError as exc:
            assert exc.code == 403
        benign = urllib.request.Request(f"http://127.0.0.1:{ports['waf']}/hello?name=world",
                                        headers={"Host": "demo.local"})
        with urllib.request.urlopen(benign, timeout=10) as resp:
            assert resp.status == 200
        search = urllib.request.Request(f"http://127.0.0.1:{ports['api']}/v1/alerts?from=now-15m",
                                        headers={"Authorization": f"Bearer {analyst}"})
        deadline = time.monotonic() + 5
        total = 0
        while time.monotonic() < deadline and total == 0:
            with urllib.request.urlopen(search, timeout=5) as resp:
                total = json.loads(resp.read())["total"]
            time.sleep(0.1)
        assert total >= 1, "the alert was not searchable within 5 seconds"
        family = descendants(proc.pid)
        assert len(family) >= 7, family  # broker, clamd, upstream, indexer, api, av, waf parent + 2 workers
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
        proc.stdout.close()
        rest = "".join(lines)
    assert proc.returncode == 0, output + rest
    assert "stopped." in rest
    time.sleep(0.5)
    leftovers = [pid for pid in family if alive(pid)]
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    assert not leftovers, "processes left behind after SIGTERM"
