"""Drives the light app-layer parsers of a flow and turns their output into inspection points.

The engine inspects app-layer rules at *progress points* of a transaction, as Suricata's
app-layer inspect engines do (``detect-engine-prefilter.c`` per-progress prefilters): HTTP request
headers, request complete (body buffers final), response headers, response complete; one DNS
message; the TLS ClientHello and the server's certificate. Each point carries the transaction
(whose ``buffer(name, direction)`` gives the sticky buffers), its direction, and whether body
buffers are final.

Protocol detection follows ``layers/app/detect.py`` on the first bytes of each direction, like
Suricata's probing parsers; a flow whose first bytes match nothing we parse is ``failed`` and
only stream/packet rules see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.ips.layers.app.detect import detect_app_proto
from services.ips.layers.app.dns import DnsParser
from services.ips.layers.app.http import HttpParser, RequestComplete, RequestHeaders, ResponseComplete, ResponseHeaders
from services.ips.model import AppProto, Direction

PROBE_LIMIT = 4096  # bytes of a direction looked at before giving up on detection


@dataclass(slots=True)
class AppPoint:
    """An inspection point: ``tx`` at a progress in ``direction``; ``final`` = bodies complete."""

    direction: Direction
    tx: Any
    final: bool
    proto: AppProto

    def eve(self) -> dict:
        try:
            return {self.proto.value: self.tx.eve()}
        except Exception:  # an EVE object is a courtesy; a parser quirk must not lose the alert
            return {}


_HTTP_POINTS = {
    RequestHeaders: (Direction.TO_SERVER, False),
    RequestComplete: (Direction.TO_SERVER, True),
    ResponseHeaders: (Direction.TO_CLIENT, False),
    ResponseComplete: (Direction.TO_CLIENT, True),
}


class AppSession:
    """One flow's app layer: detection, then the protocol parser."""

    __slots__ = ("proto", "transport", "dst_port", "_probe", "_undecided", "_http", "_dns", "_tls")

    def __init__(self, transport: str, dst_port: int) -> None:
        self.transport = transport
        self.dst_port = dst_port
        self.proto = AppProto.UNKNOWN
        self._probe: list[bytearray] = [bytearray(), bytearray()]
        self._undecided = [True, True]
        self._http: HttpParser | None = None
        self._dns: DnsParser | None = None
        self._tls: Any = None

    @property
    def decided(self) -> bool:
        return self.proto is not AppProto.UNKNOWN

    def feed(self, direction: Direction, data: bytes) -> list[AppPoint]:
        if not data or self.proto is AppProto.FAILED:
            return []
        if self.proto is AppProto.UNKNOWN:
            held = self._detect(direction, data)
            out: list[AppPoint] = []
            for d, chunk in held:
                out.extend(self._parse(d, chunk))
            return out
        return self._parse(direction, data)

    def gap(self, direction: Direction, length: int) -> list[AppPoint]:
        """Bytes of a direction were lost; HTTP resyncs inside a body of known length."""
        if self._http is not None:
            return self._http_points(self._http.gap(direction, length))
        if self.proto is AppProto.UNKNOWN:
            self._undecided[int(direction)] = False
            if not any(self._undecided):
                self.proto = AppProto.FAILED
        return []

    def finish(self) -> list[AppPoint]:
        if self._http is not None:
            return self._http_points(self._http.finish())
        return []

    def _detect(self, direction: Direction, data: bytes) -> list[tuple[Direction, bytes]]:
        """Feed detection; once a protocol is found, return what the parser must see, in order."""
        d = int(direction)
        if not self._undecided[d]:
            return []
        probe = self._probe[d]
        added = min(len(data), PROBE_LIMIT - len(probe))
        probe += data[:added]
        found = detect_app_proto(direction, bytes(probe), self.dst_port, self.transport)
        if found is None and len(probe) < PROBE_LIMIT and self.transport == "tcp":
            return []  # a prefix of something we know: wait for more bytes (datagrams stand alone)
        if found is None or found is AppProto.UNKNOWN or found is AppProto.FAILED:
            self._undecided[d] = False
            if not any(self._undecided):
                self.proto = AppProto.FAILED
            return []
        self.proto = found
        if found is AppProto.HTTP:
            self._http = HttpParser()
        elif found is AppProto.DNS:
            self._dns = DnsParser(self.transport)
        elif found is AppProto.TLS:
            from services.ips.layers.app.tls import TlsParser

            self._tls = TlsParser()
        other = direction.reverse
        held: list[tuple[Direction, bytes]] = []
        if self._probe[int(other)] and self._undecided[int(other)]:
            held.append((other, bytes(self._probe[int(other)])))
        held.append((direction, bytes(probe) + data[added:]))
        self._probe = [bytearray(), bytearray()]
        return held

    def _parse(self, direction: Direction, data: bytes) -> list[AppPoint]:
        if self._http is not None:
            return self._http_points(self._http.feed(direction, data))
        if self._dns is not None:
            return [AppPoint(direction, tx, True, AppProto.DNS) for tx in self._dns.feed(direction, data)]
        if self._tls is not None:
            return [AppPoint(ev.direction, ev.tls, True, AppProto.TLS) for ev in self._tls.feed(direction, data)]
        return []

    @staticmethod
    def _http_points(events: list) -> list[AppPoint]:
        out = []
        for ev in events:
            where = _HTTP_POINTS.get(type(ev))
            if where is not None:
                out.append(AppPoint(where[0], ev.tx, where[1], AppProto.HTTP))
        return out
