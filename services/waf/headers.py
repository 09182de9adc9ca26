"""Header handling between client, WAF and upstream (RFC 9110 section 7.6.1, RFC 9112).

Hop-by-hop headers are connection-specific and never forwarded, including every header a
``Connection`` field names. The WAF re-frames bodies itself (it buffers the request and lets aiohttp
write Content-Length or chunked), so framing headers from one side never reach the other.
"""

from __future__ import annotations

from collections.abc import Iterable

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Framing is recomputed from the bytes actually forwarded; Expect is answered by the WAF itself
# (it reads the body before the upstream sees the request).
REFRAMED = frozenset({"content-length", "expect"})


def _connection_tokens(headers: Iterable[tuple[str, str]]) -> set[str]:
    tokens: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


def upstream_request_headers(
    raw: list[tuple[str, str]], *, client_ip: str, scheme: str
) -> list[tuple[str, str]]:
    """Headers for the upstream: the client's, in order and spelling, minus hop-by-hop, plus X-Forwarded-*.

    X-Forwarded-For is appended to (the de-facto convention of nginx's
    ``$proxy_add_x_forwarded_for``); X-Forwarded-Proto and -Host describe this hop and replace any
    value a client sent, so a client cannot spoof them.
    """
    drop = HOP_BY_HOP | REFRAMED | _connection_tokens(raw)
    out: list[tuple[str, str]] = []
    xff: list[str] = []
    host = ""
    spelling: dict[str, str] = {}
    for name, value in raw:
        lname = name.lower()
        # A repeated field keeps its first spelling: aiohttp's client merges headers through a
        # case-sensitive "seen" set, so "X-A: 1" then "x-a: 2" would lose the first value.
        name = spelling.setdefault(lname, name)
        if lname in drop:
            continue
        if lname == "x-forwarded-for":
            xff.append(value.strip())
            continue
        if lname in ("x-forwarded-proto", "x-forwarded-host"):
            continue
        if lname == "host":
            host = value
        out.append((name, value))
    xff.append(client_ip)
    out.append(("X-Forwarded-For", ", ".join(v for v in xff if v)))
    out.append(("X-Forwarded-Proto", scheme))
    if host:
        out.append(("X-Forwarded-Host", host))
    return out


def client_response_headers(raw: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Upstream response headers for the client: hop-by-hop and framing removed."""
    drop = HOP_BY_HOP | {"content-length"} | _connection_tokens(raw)
    return [(n, v) for n, v in raw if n.lower() not in drop]
