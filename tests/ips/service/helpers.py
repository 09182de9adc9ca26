"""Real loopback peers for the proxy tests: an echo upstream, a request/response upstream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.ips.proxy import IpsMetrics, Listener
from shared.config.tenancy import IpsListener
from prometheus_client import CollectorRegistry


@dataclass
class Upstream:
    """A TCP server on 127.0.0.1:0 running ``handler`` per connection; records what it received."""

    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Upstream"], Awaitable[None]]
    server: asyncio.Server | None = None
    received: list[bytes] = field(default_factory=list)
    connections: int = 0

    async def start(self) -> "Upstream":
        async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(r, w, self)
            except (ConnectionError, OSError):
                pass
            finally:
                w.close()

        self.server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
        return self

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def echo(r: asyncio.StreamReader, w: asyncio.StreamWriter, up: Upstream) -> None:
    """Echo every chunk back; on the client's EOF, answer "bye\\n" and close (half-close aware)."""
    while True:
        data = await r.read(65536)
        if not data:
            break
        up.received.append(data)
        w.write(data)
        await w.drain()
    w.write(b"bye\n")
    await w.drain()


def listener_spec(upstream_port: int, *, mode: str = "prevent", name: str = "t1", idle: float = 600.0,
                  connect_timeout: float = 5.0) -> IpsListener:
    return IpsListener(name=name, tenant_id="acme", vpc_id="vpc-a", listen_host="127.0.0.1", listen_port=0,
                       upstream_host="127.0.0.1", upstream_port=upstream_port, mode=mode, rulesets=("t",),
                       idle_timeout=idle, connect_timeout=connect_timeout)


async def start_listener(spec: IpsListener, engine=None, *, sink=None, eve=None,
                         registry: CollectorRegistry | None = None) -> Listener:
    lst = Listener(spec, lambda _spec: engine, metrics=IpsMetrics(registry or CollectorRegistry()),
                   observer="ips-test", sink=sink, eve=eve, inspect=engine is not None)
    await lst.start()
    return lst


async def read_all(r: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    out = bytearray()
    while True:
        try:
            chunk = await asyncio.wait_for(r.read(65536), timeout)
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
    return bytes(out)
