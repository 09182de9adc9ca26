"""Reload: new packs built aside and swapped whole (POST /v1/reload and SIGHUP); a broken pack keeps
the old one."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from services.av.pack import DEFAULT_PACK_DIR
from shared.runtime.ports import free_port, wait_for_port
from shared.runtime.process import die_with_parent, stop_process
from tests.av.conftest import AvService
from tests.plugins.clamd import ClamdServer

EXTRA_RULE = """
rule Test_Reload_Marker
{
    strings:
        $m = "secchain-reload-marker-7f3a"
    condition:
        $m
}
"""
SAMPLE = b"payload with secchain-reload-marker-7f3a inside\n"


def _bump(pack: Path, version: str, extra: str = EXTRA_RULE) -> None:
    manifest = (pack / "manifest.yaml").read_text()
    (pack / "manifest.yaml").write_text(manifest.replace("version: 0.1.0", f"version: {version}"))
    with open(pack / "core.yar", "a") as fh:
        fh.write(extra)


async def _post(url: str, path: str, body: bytes = b"") -> tuple[int, dict]:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}{path}", data=body) as resp:
            return resp.status, await resp.json()


@pytest.fixture
def pack_copy(tmp_path: Path) -> Path:
    pack = tmp_path / "core"
    shutil.copytree(DEFAULT_PACK_DIR, pack)
    return pack


async def test_post_reload_swaps_yara_and_version(av_service: AvService, pack_copy: Path, tmp_path: Path) -> None:
    url = await av_service(pack_dirs=(pack_copy,), database_dir=tmp_path / "db")
    _, before = await _post(url, "/v1/scan", SAMPLE)
    assert before["verdict"] == "clean" and before["ruleset"] == "core@0.1.0"
    _bump(pack_copy, "0.2.0")
    status, doc = await _post(url, "/v1/reload")
    assert status == 200 and doc["ruleset"] == "core@0.2.0"
    _, after = await _post(url, "/v1/scan", SAMPLE)
    # Not served from the cache: the key includes the pack version.
    assert after["cached"] is False and after["verdict"] == "infected"
    assert after["signatures"] == [{"name": "Secchain.YARA.Test_Reload_Marker", "engine": "yara", "ruleset": "core@0.2.0"}]


async def test_broken_reload_keeps_the_old_rules(av_service: AvService, pack_copy: Path, tmp_path: Path) -> None:
    url = await av_service(pack_dirs=(pack_copy,), database_dir=tmp_path / "db")
    _bump(pack_copy, "0.3.0", "rule Broken { condition: $nope }\n")
    status, doc = await _post(url, "/v1/reload")
    assert status == 422 and "undefined string" in doc["detail"] and doc["ruleset"] == "core@0.1.0"
    _, scan = await _post(url, "/v1/scan", b"<?php eval($_POST['x']); ?>")
    assert scan["verdict"] == "infected" and scan["ruleset"] == "core@0.1.0"


def test_sighup_reloads_the_running_service(clamd_server: ClamdServer, pack_copy: Path, tmp_path: Path) -> None:
    port = free_port()
    log = open(tmp_path / "av.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.av", "--port", str(port), "--clamd-port", str(clamd_server.port),
         "--database-dir", str(tmp_path / "db"), "--pack", str(pack_copy)],
        stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        _bump(pack_copy, "0.4.0")
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        text = ""
        while time.monotonic() < deadline and "core@0.4.0" not in text:
            time.sleep(0.1)
            text = (tmp_path / "av.log").read_text()
        assert "AV packs reloaded: core@0.4.0" in text, text
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/scan", data=SAMPLE, method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            doc = json.load(resp)
        assert doc["verdict"] == "infected" and doc["ruleset"] == "core@0.4.0"
    finally:
        assert stop_process(proc) == 0
        log.close()
