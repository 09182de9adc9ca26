"""Application-layer protocol detection and the light HTTP/1.x, DNS and TLS parsers.

Each parser is fed one direction's bytes at a time (``feed(direction, data)``) and returns the
transactions / events those bytes completed; each transaction answers ``buffer(name, direction)``
with the sticky buffer of that canonical name (``http.uri``, ``dns.query``, ``tls.sni``, ...) and
``eve()`` with its EVE object. :func:`new_parser` picks the parser for a detected protocol.
"""

from __future__ import annotations

from services.ips.model import AppProto


def new_parser(proto: AppProto, transport: str):
    """A fresh parser for ``proto`` on ``transport`` ("tcp"/"udp"), or None if we have none."""
    if proto is AppProto.HTTP and transport == "tcp":
        from services.ips.layers.app.http import HttpParser

        return HttpParser()
    if proto is AppProto.DNS:
        from services.ips.layers.app.dns import DnsParser

        return DnsParser(transport)
    if proto is AppProto.TLS and transport == "tcp":
        from services.ips.layers.app.tls import TlsParser

        return TlsParser()
    return None
