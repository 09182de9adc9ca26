"""AvClient against the real service: bytes and streamed bodies, outages as ``error`` results, 413."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.av.client import AvClient, ScanRejected
from shared.runtime.ports import free_port
from tests.av.conftest import AvService
from tests.av.samples import SAMPLES, eicar


async def test_scan_bytes_and_stream(av_service: AvService) -> None:
    url = await av_service()
    async with AvClient(url, timeout=30) as client:
        assert await client.ready()
        result = await client.scan(SAMPLES["jsp_webshell"](), file_name="ünïcode.jsp", tenant_id="t1", trace_id="tr-1")
        assert result.verdict == "infected" and "Secchain.YARA.Webshell_JSP_RuntimeExec" in result.names

        async def body() -> AsyncIterator[bytes]:
            data = eicar()
            for i in range(0, len(data), 10):
                yield data[i:i + 10]

        streamed = await client.scan(body(), file_name="e.com")
        assert streamed.infected and streamed.size == len(eicar())
        clean = await client.scan(b"hello world")
        assert clean.verdict == "clean" and clean.signatures == ()


async def test_unreachable_service_is_an_error_result() -> None:
    async with AvClient(f"http://127.0.0.1:{free_port()}", timeout=5) as client:
        result = await client.scan(b"abc")
        assert result.verdict == "error" and "unreachable" in (result.reason or "")
        assert not await client.ready()


async def test_too_large_raises(av_service: AvService) -> None:
    url = await av_service(max_body=10)
    async with AvClient(url) as client:
        with pytest.raises(ScanRejected, match="exceeds the 10-byte limit"):
            await client.scan(b"x" * 11)
