"""The data plane's side of distribution: follow the control plane's snapshots and apply them.

A WAF (or IPS, AV) worker runs one :class:`SnapshotFollower`. It long-polls
``/v1/dataplane/snapshot?after=<version>``, parses each new document with the tenancy parser,
hands it to ``apply`` (which builds the new engines aside and swaps them in, in a thread so the
event loop keeps serving), and reports the outcome back. As in Suricata's rule reload, a failed
build leaves the previous engines serving; the failure is reported and the follower waits for the
next version instead of retrying the same bad one.

With ``cache_path`` the last applied snapshot is kept on disk and applied at start before the
first poll, so a worker restarted while the control plane is down still serves its tenants (as
Envoy keeps its last good configuration); a newer version replaces it as soon as one arrives.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from shared.config.tenancy import Tenancy, parse_tenancy

log = logging.getLogger("secchain.control.follower")

KEY_ENV = "SECCHAIN_CONTROL_KEY"


def read_control_key(path: Path | None) -> str:
    """The data-plane key: from ``--control-key-file`` or the SECCHAIN_CONTROL_KEY variable."""
    if path is not None:
        return path.read_text().strip()
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise ValueError(f"--control-url needs a data-plane key: --control-key-file FILE or {KEY_ENV}")
    return key


class SnapshotFollower:
    def __init__(self, url: str, key: str, *, instance: str, service: str,
                 apply: Callable[[Tenancy, int], None], wait: int = 10, cache_path: Path | None = None) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.instance = instance
        self.service = service
        self.apply = apply
        self.wait = wait
        self.cache_path = cache_path
        self.version = -1            # the version last received (applied or rejected)
        self.applied_version = -1    # the version serving
        self.last_error: str | None = None
        self.document: dict[str, Any] | None = None
        self.applied = asyncio.Event()

    async def run(self) -> None:
        await self._apply_cached()
        headers = {"Authorization": f"Bearer {self.key}"}
        backoff = 0.2
        timeout = aiohttp.ClientTimeout(total=self.wait + 15, connect=5)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
            while True:
                try:
                    await self._poll(session)
                    backoff = 0.2
                except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    log.warning("control plane %s unreachable or answered badly (%s); retrying in %.1f s",
                                self.url, exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)

    async def _poll(self, session: aiohttp.ClientSession) -> None:
        params = {} if self.version < 0 else {"after": str(self.version), "wait": str(self.wait)}
        async with session.get(f"{self.url}/v1/dataplane/snapshot", params=params) as resp:
            if resp.status == 304:
                return
            if resp.status != 200:
                raise ValueError(f"HTTP {resp.status}: {(await resp.text())[:300]}")
            body = await resp.json()
        version, doc = int(body["version"]), body["tenancy"]
        await self._apply(session, version, doc)

    async def _apply(self, session: aiohttp.ClientSession, version: int, doc: dict[str, Any]) -> None:
        self.version = version
        if doc == self.document:
            # Same configuration at a newer version (e.g. a no-op change): nothing to build.
            self.applied_version = version
            await self._report(session, version, True, None)
            return
        started = time.monotonic()
        try:
            tenancy = parse_tenancy(doc, f"control plane snapshot v{version}")
            await asyncio.to_thread(self.apply, tenancy, version)
        except Exception as exc:
            self.last_error = str(exc)
            log.error("snapshot v%d rejected, version %d keeps serving: %s", version, self.applied_version, exc)
            await self._report(session, version, False, str(exc))
            return
        self.document, self.applied_version, self.last_error = doc, version, None
        self.applied.set()
        await asyncio.to_thread(self._store_cache, version, doc)
        log.info("snapshot v%d applied in %.0f ms", version, (time.monotonic() - started) * 1000)
        await self._report(session, version, True, None)

    async def _apply_cached(self) -> None:
        if self.cache_path is None or not self.cache_path.is_file():
            return
        try:
            cached = json.loads(self.cache_path.read_text())
            version, doc = int(cached["version"]), cached["tenancy"]
            tenancy = parse_tenancy(doc, f"{self.cache_path} (snapshot v{version})")
            await asyncio.to_thread(self.apply, tenancy, version)
        except Exception as exc:  # a stale or damaged cache only delays serving until the first poll
            log.warning("cached snapshot %s not applied: %s", self.cache_path, exc)
            return
        self.version, self.applied_version, self.document = version, version, doc
        self.applied.set()
        log.info("cached snapshot v%d applied; following %s for newer ones", version, self.url)

    def _store_cache(self, version: int, doc: dict[str, Any]) -> None:
        if self.cache_path is None:
            return
        try:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_path.with_name(f".{self.cache_path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"version": version, "tenancy": doc}))
            tmp.replace(self.cache_path)
        except OSError as exc:
            log.warning("snapshot cache %s not written: %s", self.cache_path, exc)

    async def _report(self, session: aiohttp.ClientSession, version: int, ok: bool, error: str | None) -> None:
        body = {"instance": self.instance, "service": self.service, "version": version, "ok": ok,
                "error": error[:20000] if error else None}
        try:
            async with session.post(f"{self.url}/v1/dataplane/status", json=body) as resp:
                if resp.status != 204:
                    log.warning("status report refused: HTTP %d", resp.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("status report failed: %s", exc)
