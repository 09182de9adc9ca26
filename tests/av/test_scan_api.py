"""POST /v1/scan over a real socket with the session clamd: every pack case, cache, streaming, limits."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.av.conftest import CASES, AvService, is_yara
from tests.av.samples import SAMPLES, eicar


async def _post(url: str, body, **headers: str) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/v1/scan", data=body, headers=headers) as resp:
            return resp.status, await resp.json()


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
async def test_pack_case_through_the_api(av_service: AvService, case) -> None:  # type: ignore[no-untyped-def]
    url = await av_service()
    status, doc = await _post(url, SAMPLES[case["sample"]](), **{"X-File-Name": case["id"]})
    assert status == 200
    assert doc["verdict"] == case["verdict"], doc
    names = {s["name"] for s in doc["signatures"]}
    engines = {s["name"]: s["engine"] for s in doc["signatures"]}
    yara_expected = {n for n in case.get("detect", []) if is_yara(n)}
    clamav_expected = {n for n in case.get("detect", []) if not is_yara(n)}
    assert yara_expected <= names
    if clamav_expected:  # clamd INSTREAM reports the first ClamAV match only
        assert clamav_expected & names, doc
        assert all(engines[n] == "clamav" for n in clamav_expected & names)
    assert not set(case.get("absent", [])) & names
    assert all(s["ruleset"].startswith("core@") for s in doc["signatures"])
    assert doc["cached"] is False and doc["size"] == len(SAMPLES[case["sample"]]())


async def test_clean_file_is_clean_and_reports_hash(av_service: AvService) -> None:
    import hashlib
    url = await av_service()
    body = b"quarterly figures: 1,2,3\n" * 100
    status, doc = await _post(url, body)
    assert status == 200
    assert doc == {**doc, "verdict": "clean", "signatures": [], "sha256": hashlib.sha256(body).hexdigest(),
                   "size": len(body), "cached": False}


async def test_second_scan_of_same_file_is_a_cache_hit(av_service: AvService) -> None:
    url = await av_service()
    body = SAMPLES["php_webshell"]() + os.urandom(8)
    _, first = await _post(url, body)
    _, second = await _post(url, body)
    assert first["cached"] is False and second["cached"] is True
    assert second["signatures"] == first["signatures"] and second["verdict"] == "infected"
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{url}/metrics") as resp:
            text = await resp.text()
    assert 'secchain_av_scans_total{cached="true",verdict="infected"} 1.0' in text


async def test_big_streamed_upload_spills_and_is_scanned(av_service: AvService, tmp_path: Path) -> None:
    url = await av_service(memory_limit=64 * 1024, spool_dir=tmp_path)
    chunk = os.urandom(1 << 20)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(24):
            yield chunk
        yield b"\n" + eicar() + b"\n"

    status, doc = await _post(url, body())
    assert status == 200
    assert doc["size"] == 24 * (1 << 20) + len(eicar()) + 2
    assert doc["verdict"] == "infected"
    assert {"clamav", "yara"} <= {s["engine"] for s in doc["signatures"]}
    assert list(tmp_path.glob("av-*")) == []  # the spill file is removed after the scan


async def test_body_above_max_is_413_with_and_without_length(av_service: AvService) -> None:
    url = await av_service(max_body=1000)
    status, doc = await _post(url, b"x" * 1001)
    assert status == 413 and "1001 bytes exceeds the 1000-byte limit" in doc["detail"]

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"y" * 600

    status, doc = await _post(url, chunked())
    assert status == 413 and doc["error"] == "payload_too_large"


async def test_readyz_reports_clamd_and_yara(av_service: AvService) -> None:
    url = await av_service()
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{url}/readyz") as resp:
            assert resp.status == 200
            assert "yara core@" in (await resp.json())["detail"]
