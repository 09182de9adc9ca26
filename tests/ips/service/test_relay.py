"""The proxy as a plain relay (no engine): framing-free byte relay, half-close, back-pressure,
timeouts and upstream failures, over real loopback sockets."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time

from prometheus_client import CollectorRegistry

from shared.runtime.ports import free_port
from tests.ips.service.helpers import Upstream, echo, listener_spec, read_all, start_listener


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_relays_both_ways_and_half_close_keeps_the_response_direction_open() -> None:
    up = await Upstream(echo).start()
    reg = CollectorRegistry()
    lst = await start_listener(listener_spec(up.port), registry=reg)
    try:
        r, w = await asyncio.open_connection(*lst.address)
        w.write(b"hello ")
        await w.drain()
        assert await r.readexactly(6) == b"hello "
        w.write(b"world")
        w.write_eof()  # the client is done sending; the upstream answers only after that EOF
        assert await read_all(r) == b"world" + b"bye\n"
        w.close()
        await w.wait_closed()
        assert b"".join(up.received) == b"hello world"
    finally:
        await lst.close()
        await up.close()
    assert sample(reg, "secchain_ips_connections_total", listener="t1", outcome="closed") == 1
    assert sample(reg, "secchain_ips_bytes_total", listener="t1", direction="to_server") == 11
    assert sample(reg, "secchain_ips_bytes_total", listener="t1", direction="to_client") == 15


async def test_a_slow_upstream_slows_the_client_instead_of_filling_memory() -> None:
    release = asyncio.Event()
    digest = hashlib.sha256()
    got = 0

    async def slow(r: asyncio.StreamReader, w: asyncio.StreamWriter, up: Upstream) -> None:
        nonlocal got
        await release.wait()
        while data := await r.read(1 << 20):
            digest.update(data)
            got += len(data)
        w.write(b"done")
        await w.drain()

    up = await Upstream(slow).start()
    reg = CollectorRegistry()
    lst = await start_listener(listener_spec(up.port), registry=reg)
    total = 64 << 20
    block = os.urandom(1 << 20)
    sent = hashlib.sha256()
    try:
        r, w = await asyncio.open_connection(*lst.address)

        async def send() -> None:
            for _ in range(total >> 20):
                sent.update(block)
                w.write(block)
                await w.drain()
            w.write_eof()

        sender = asyncio.create_task(send())
        await asyncio.sleep(1.0)
        relayed = sample(reg, "secchain_ips_bytes_total", listener="t1", direction="to_server")
        assert not sender.done(), "the client should be blocked by back-pressure"
        # what the proxy read is bounded by the socket buffers and its own small write buffer
        assert relayed < total / 2, relayed
        release.set()
        await asyncio.wait_for(sender, 30)
        assert await read_all(r, timeout=30) == b"done"
        assert got == total and digest.digest() == sent.digest()
        w.close()
    finally:
        await lst.close()
        await up.close()


async def test_upstream_down_closes_the_client_and_counts_it() -> None:
    reg = CollectorRegistry()
    lst = await start_listener(listener_spec(free_port()), registry=reg)
    try:
        r, w = await asyncio.open_connection(*lst.address)
        started = time.monotonic()
        assert await read_all(r) == b""
        assert time.monotonic() - started < 3
        w.close()
    finally:
        await lst.close()
    assert sample(reg, "secchain_ips_connections_total", listener="t1", outcome="upstream_error") == 1


async def test_idle_connections_are_closed_after_the_idle_timeout() -> None:
    up = await Upstream(echo).start()
    reg = CollectorRegistry()
    lst = await start_listener(listener_spec(up.port, idle=0.3), registry=reg)
    try:
        r, w = await asyncio.open_connection(*lst.address)
        w.write(b"ping")
        assert await r.readexactly(4) == b"ping"
        started = time.monotonic()
        assert await read_all(r, timeout=5) == b""
        assert 0.2 < time.monotonic() - started < 3
        w.close()
    finally:
        await lst.close()
        await up.close()
    assert sample(reg, "secchain_ips_connections_total", listener="t1", outcome="idle_timeout") == 1
