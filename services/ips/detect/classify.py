"""How the engine inspects each signature: its inspection kind, directions and evaluation order.

Suricata sorts signatures into IP-only, packet, stream and app-layer (transaction) inspection
(``detect-engine-build.c``: ``SignatureIsIPOnly``, ``SignatureIsPDOnly``, the app-layer inspect
engines) and orders them by action (``action-order``: pass, drop, reject, alert), then so that a
rule which sets a flowbit runs before the rules that test it (``detect-engine-sigorder.c``), then
by priority. This module makes the same decisions once, at build time, so the hot path only reads
precomputed tuples.

Example: ``alert http $EXTERNAL_NET any -> $HOME_NET any (flow:to_server,established;
http.uri; content:"/cgi-bin/"; sid:1;)`` is an app-layer rule inspected on HTTP requests;
``alert udp any any -> any 53 (content:"|01 00|"; offset:2; depth:2; sid:2;)`` a packet rule;
``alert tcp any any -> any any (content:"USER root"; sid:3;)`` a stream rule (its content may be
split across TCP segments); ``alert ip 192.0.2.1 any -> $HOME_NET any (sid:4;)`` is IP-only.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from services.ips.model import Direction
from services.ips.signatures.model import Signature

PAYLOAD = "payload"


class Kind(enum.IntEnum):
    HEADER = 0  # addresses/ports only: inspected once per flow and direction (IP-only)
    PACKET = 1  # each packet (UDP/ICMP datagrams, TCP rules with packet keywords or no_stream)
    STREAM = 2  # the reassembled TCP stream (content may span segments)
    APP = 3  # an application-layer transaction (HTTP request/response, DNS message, TLS handshake)


# Buffers that only exist on one side of an HTTP/DNS/TLS transaction (detect-http-*.c register them
# for one direction); the others (http.header, http.cookie, file.data ...) exist on both sides and
# follow the rule's flow direction.
REQUEST_ONLY = frozenset({
    "http.uri", "http.uri.raw", "http.method", "http.host", "http.host.raw", "http.user_agent",
    "http.request_line", "http.request_body", "http.accept", "http.accept_enc", "http.accept_lang",
    "http.referer", "http.connection", "dns.query", "tls.sni", "ja3.hash", "ja3.string",
    "urilen",
})
RESPONSE_ONLY = frozenset({
    "http.stat_code", "http.stat_msg", "http.response_line", "http.response_body", "http.server",
    "http.location", "tls.cert_subject", "tls.cert_issuer", "tls.cert_serial",
    "tls.cert_fingerprint", "ja3s.hash", "ja3s.string", "tls.certs",
})
# Buffers only complete when the transaction's body is: inspected at RequestComplete /
# ResponseComplete, never at the headers (Suricata's body inspect engines run at body progress).
BODY_BUFFERS = frozenset({"http.request_body", "http.response_body", "file.data"})

ACTION_ORDER = {"pass": 0, "drop": 1, "reject": 2, "alert": 3}


def kind_of(sig: Signature) -> Kind:
    names = {b.name for b in sig.buffers}
    if names - {PAYLOAD}:
        return Kind.APP
    if sig.transport != "tcp":
        if names or sig.packet_checks or sig.flow or sig.flowbits or sig.xbits or sig.app_layer:
            return Kind.PACKET
        return Kind.HEADER
    if sig.packet_checks or sig.packet_only or (sig.flow is not None and sig.flow.stream == "no"):
        return Kind.PACKET
    if names:
        return Kind.STREAM
    if sig.flow or sig.flowbits or sig.xbits or sig.app_layer or sig.app_proto is not None:
        return Kind.PACKET
    return Kind.HEADER


def directions_of(sig: Signature) -> tuple[Direction, ...]:
    """The directions in which the rule can match (its flow keyword, else its buffers)."""
    if sig.flow is not None and sig.flow.direction is not None:
        return (sig.flow.direction,)
    names = {b.name for b in sig.buffers}
    if names & RESPONSE_ONLY:
        return (Direction.TO_CLIENT,)
    if names & REQUEST_ONLY:
        return (Direction.TO_SERVER,)
    return (Direction.TO_SERVER, Direction.TO_CLIENT)


def order(signatures: Sequence[Signature]) -> list[Signature]:
    """Evaluation order: action, then flowbit setters before flowbit readers, then priority, sid."""

    def key(sig: Signature) -> tuple[int, int, int, int, int]:
        sets = any(op.cmd in ("set", "unset", "toggle") for op in sig.flowbits) or any(
            op.cmd in ("set", "unset", "toggle") for op in sig.xbits
        )
        reads = any(op.cmd in ("isset", "isnotset") for op in sig.flowbits) or any(
            op.cmd in ("isset", "isnotset") for op in sig.xbits
        )
        # Suricata's sigorder puts pure setters first, then set+read, then pure readers.
        bits = 0 if sets and not reads else 1 if sets else 2 if reads else 1
        return (ACTION_ORDER.get(sig.action, 3), bits, sig.priority, sig.gid, sig.sid)

    return sorted(signatures, key=key)
