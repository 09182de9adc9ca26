"""clamd down or stuck: the scan answers ``error`` with a reason, never hangs; readiness turns 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from services.av.clamd_client import ClamdClient, ClamdError, parse_instream_reply
from shared.runtime.ports import free_port
from tests.av.conftest import AvService
from tests.av.samples import eicar
from tests.plugins.clamd import ClamdServer


async def _scan(url: str, body: bytes) -> dict:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/v1/scan", data=body) as resp:
            assert resp.status == 200
            return await resp.json()


async def test_clamd_down_gives_error_verdict_and_not_ready(av_service: AvService) -> None:
    url = await av_service(clamd_port=free_port())
    doc = await _scan(url, eicar())
    assert doc["verdict"] == "error"
    assert "clamd unreachable at 127.0.0.1" in doc["reason"]
    # YARA's half still reports what it saw, but the file is not called clean or infected.
    assert [s["engine"] for s in doc["signatures"]] == ["yara"]
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{url}/readyz") as resp:
            assert resp.status == 503
            assert "clamd unreachable" in (await resp.json())["detail"]
    again = await _scan(url, eicar())
    assert again["cached"] is False  # errors are never cached


@pytest.fixture
async def stuck_clamd() -> AsyncIterator[int]:
    """A TCP server that accepts and reads but never answers, like a wedged clamd."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield port
    server.close()
    await server.wait_closed()


async def test_stuck_clamd_times_out_into_error(av_service: AvService, stuck_clamd: int) -> None:
    url = await av_service(clamd_port=stuck_clamd, clamd_timeout=0.5)
    doc = await _scan(url, b"some file")
    assert doc["verdict"] == "error"
    assert "did not finish INSTREAM within 0.5 s" in doc["reason"]


async def test_client_against_real_clamd(clamd_server: ClamdServer) -> None:
    client = ClamdClient(clamd_server.host, clamd_server.port, chunk_size=7)
    assert await client.ping()
    assert (await client.version()).startswith("ClamAV ")
    assert await client.instream([eicar()[:30], eicar()[30:]]) == ["Secchain.Test.EICAR.Body"]
    assert await client.instream([b"nothing here"]) == []


async def test_stream_longer_than_stream_max_length_is_an_error(clamd_server: ClamdServer) -> None:
    client = ClamdClient(clamd_server.host, clamd_server.port)
    block = bytes(1 << 20)
    with pytest.raises(ClamdError, match="size limit exceeded|closed the INSTREAM connection|failed during INSTREAM"):
        await client.instream(block for _ in range(70))  # fixture's StreamMaxLength is 64M


def test_reply_parsing() -> None:
    assert parse_instream_reply("stream: OK\0") == []
    assert parse_instream_reply("stream: Foo.Bar.UNOFFICIAL FOUND\0") == ["Foo.Bar"]
    with pytest.raises(ClamdError, match="INSTREAM size limit exceeded. ERROR"):
        parse_instream_reply("INSTREAM size limit exceeded. ERROR\0")
    with pytest.raises(ClamdError, match="without a reply"):
        parse_instream_reply("")

