"""Archive walking for YARA: nested members found, every limit enforced as a verdict, never a crash."""

from __future__ import annotations

import gzip
import os
import zipfile

import aiohttp
import pytest

from services.av.archives import ArchiveLimitExceeded, ArchiveLimits, iter_members
from services.av.models import ARCHIVE_BOMB
from tests.av.conftest import AvService
from tests.av.samples import eicar, eicar_tar_gz_in_zip, nested_zips, tar_bytes, zip_bytes


def test_nested_members_are_yielded_with_their_path() -> None:
    members = dict(iter_members(eicar_tar_gz_in_zip(), ArchiveLimits()))
    assert members["bundle.tar.gz!gzip-content!bin/eicar.com"] == eicar()
    assert members["notes.txt"] == b"quarterly notes\n"


def test_depth_limit() -> None:
    data = nested_zips(5, b"deep")
    with pytest.raises(ArchiveLimitExceeded, match="nested deeper than 3"):
        list(iter_members(data, ArchiveLimits(max_depth=3)))
    assert any(c == b"deep" for _, c in iter_members(data, ArchiveLimits(max_depth=5)))


def test_member_count_limit() -> None:
    data = zip_bytes({f"f{i}.txt": b"x" for i in range(30)})
    with pytest.raises(ArchiveLimitExceeded, match="more than 20 archive members"):
        list(iter_members(data, ArchiveLimits(max_members=20)))


def test_total_expanded_size_limit_stops_reading() -> None:
    data = zip_bytes({"a.bin": os.urandom(300_000), "b.bin": os.urandom(300_000)}, zipfile.ZIP_STORED)
    with pytest.raises(ArchiveLimitExceeded, match=r"expands beyond 500000 bytes \(at b.bin\)"):
        list(iter_members(data, ArchiveLimits(max_total_bytes=500_000)))


def test_compression_ratio_limit_on_zip_and_gzip() -> None:
    zeros = bytes(8 << 20)
    with pytest.raises(ArchiveLimitExceeded, match="compression ratio above 100 at zeros.bin"):
        list(iter_members(zip_bytes({"zeros.bin": zeros}), ArchiveLimits()))
    with pytest.raises(ArchiveLimitExceeded, match="compression ratio above 100 at gzip-content"):
        list(iter_members(gzip.compress(zeros), ArchiveLimits()))


def test_small_highly_compressible_files_are_not_bombs() -> None:
    members = dict(iter_members(zip_bytes({"spaces.txt": b" " * 200_000}), ArchiveLimits()))
    assert len(members["spaces.txt"]) == 200_000


@pytest.mark.parametrize("data", [b"PK\x03\x04garbage" * 10, b"\x1f\x8b\x08\x00broken", tar_bytes({"a": b"1"})[:700]])
def test_corrupt_archives_end_the_walk_quietly(data: bytes) -> None:
    list(iter_members(data, ArchiveLimits()))


async def _scan(url: str, body: bytes) -> dict:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/v1/scan", data=body) as resp:
            assert resp.status == 200
            return await resp.json()


async def test_zip_bomb_is_an_infected_verdict(av_service: AvService) -> None:
    url = await av_service()
    doc = await _scan(url, zip_bytes({"zeros.bin": bytes(16 << 20)}))
    assert doc["verdict"] == "infected"
    assert {"name": ARCHIVE_BOMB, "engine": "heuristic", "ruleset": doc["ruleset"]} in doc["signatures"]
    assert any("compression ratio" in n for n in doc["notes"])


async def test_too_deep_nesting_through_the_api(av_service: AvService) -> None:
    url = await av_service()
    doc = await _scan(url, nested_zips(6, b"just text"))
    assert doc["verdict"] == "infected" and ARCHIVE_BOMB in {s["name"] for s in doc["signatures"]}


async def test_nested_archive_within_limits_detects_inner_file(av_service: AvService) -> None:
    url = await av_service()
    doc = await _scan(url, nested_zips(3, eicar()))
    members = {s.get("member") for s in doc["signatures"] if s["engine"] == "yara"}
    assert doc["verdict"] == "infected" and ARCHIVE_BOMB not in {s["name"] for s in doc["signatures"]}
    assert "level2.zip!level1.zip!payload.txt" in members
