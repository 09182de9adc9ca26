"""IP address normalisation shared by both backends.

OpenSearch's ``ip`` field stores every address as 16 bytes and renders IPv4-mapped IPv6 addresses
(``::ffff:10.0.0.1``) as plain IPv4, and a ``term`` query on an ``ip`` field accepts a CIDR block.
The SQLite backend mirrors that: the same canonical text for aggregations, and a 16-byte big-endian
key so that a CIDR filter is a BLOB range scan on an index.
"""

from __future__ import annotations

import ipaddress

from shared.stores.errors import QueryParamError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def canonical_ip(value: str) -> IPAddress:
    """Parse an address; IPv4-mapped IPv6 becomes IPv4 as in OpenSearch. Raises ValueError."""
    addr = ipaddress.ip_address(value)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def ip_key(addr: IPAddress) -> bytes:
    """16-byte sort key: IPv4 as ``::ffff:a.b.c.d`` so both families share one ordered space."""
    if isinstance(addr, ipaddress.IPv4Address):
        return b"\x00" * 10 + b"\xff\xff" + addr.packed
    return addr.packed


def ip_from_key(key: bytes) -> str:
    """The canonical text of an address from its :func:`ip_key` (IPv4 for ``::ffff:a.b.c.d``)."""
    return str(canonical_ip(str(ipaddress.IPv6Address(key))))


def normalise_ip_filter(value: str) -> str:
    """An address or CIDR block in canonical form (host bits of a block are cleared)."""
    text = value.strip()
    try:
        if "/" in text:
            net = ipaddress.ip_network(text, strict=False)
            if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96 and net[0].ipv4_mapped is not None:
                net = ipaddress.ip_network(f"{net[0].ipv4_mapped}/{net.prefixlen - 96}")
            return str(net)
        return str(canonical_ip(text))
    except ValueError:
        raise QueryParamError("source_ip", f"expected an IP address or CIDR block, got {value!r}") from None


def ip_filter_range(value: str) -> tuple[bytes, bytes]:
    """Inclusive ``(low, high)`` key range of a normalised filter."""
    if "/" in value:
        net = ipaddress.ip_network(value)
        return ip_key(net.network_address), ip_key(net.broadcast_address)
    key = ip_key(canonical_ip(value))
    return key, key
