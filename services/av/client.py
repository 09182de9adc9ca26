"""Client for ``POST /v1/scan``, for the WAF and any other service.

Failures of the scan service itself (unreachable, timeout, 5xx, malformed reply) come back as a
``ScanResult`` with verdict ``error`` and a ``reason``, never as an exception, so the caller applies its
fail policy (open or closed) in one place. Only a 413 (file above the service's limit) raises
:class:`ScanRejected`, since it is a property of the file, not an outage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable

import aiohttp

from services.av.models import ScanResult


class ScanRejected(ValueError):
    """The scan service refused the body (HTTP 413: larger than its max_body)."""


class AvClient:
    def __init__(self, base_url: str, timeout: float = 30.0, *, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = session
        self._own_session = session is None

    async def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> AvClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def scan(self, body: bytes | AsyncIterable[bytes], *, file_name: str | None = None,
                   tenant_id: str | None = None, trace_id: str | None = None, vpc_id: str | None = None,
                   service_alerts: bool = False) -> ScanResult:
        """Scan ``body``. ``service_alerts=False`` (the default) tells the service not to emit its own
        alert: the caller builds one with :func:`services.av.alerts.av_alert` on its own producer."""
        headers = {"Content-Type": "application/octet-stream"}
        if not service_alerts:
            headers["X-Av-Alert"] = "no"
        if vpc_id:
            headers["X-Vpc-Id"] = vpc_id
        for header, value in (("X-File-Name", file_name), ("X-Tenant-Id", tenant_id), ("X-Trace-Id", trace_id)):
            if value:
                # Header values must be latin-1 safe; file names from multipart may not be.
                headers[header] = value.encode("utf-8", "replace").decode("latin-1")
        session = await self._get_session()
        try:
            async with session.post(f"{self.base_url}/v1/scan", data=body, headers=headers,
                                    timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                if resp.status == 413:
                    raise ScanRejected((await resp.text())[:500])
                if resp.status != 200:
                    return _error(f"scan service answered HTTP {resp.status}: {(await resp.text())[:300]}")
                doc = await resp.json()
            return ScanResult.from_dict(doc)
        except ScanRejected:
            raise
        except asyncio.TimeoutError:
            return _error(f"scan service at {self.base_url} did not answer within {self.timeout:g} s")
        except aiohttp.ClientError as exc:
            return _error(f"scan service at {self.base_url} unreachable: {exc!r}")
        except (ValueError, KeyError, TypeError) as exc:
            return _error(f"scan service at {self.base_url} sent a malformed reply: {exc}")

    async def ready(self) -> bool:
        session = await self._get_session()
        try:
            async with session.get(f"{self.base_url}/readyz", timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                return resp.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False


def _error(reason: str) -> ScanResult:
    return ScanResult("error", "", 0, 0.0, reason=reason)
