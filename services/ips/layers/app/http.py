"""Sans-IO HTTP/1.x parser for both directions of one flow, exposing Suricata's sticky buffers.

Bytes in, events out (the mitmproxy layer style): the inline proxy feeds it the chunks it relays,
pcap replay feeds it the reassembled TCP stream, and the same transactions come out::

    p = HttpParser()
    p.feed(Direction.TO_SERVER, b"GET /a%20b HTTP/1.1\\r\\nHost: Example.org\\r\\n\\r\\n")
    # -> [RequestHeaders(tx), RequestComplete(tx)]
    tx.buffer("http.uri") == b"/a b"; tx.buffer("http.host") == b"example.org"

Framing follows RFC 9112 and libhtp (what Suricata inspects with): pipelined requests, keep-alive,
``Content-Length``, chunked bodies with trailers (chunked wins over Content-Length, flagged),
responses to HEAD and 1xx/204/304 without a body, interim 1xx responses skipped, a response without
length read until the server closes, CONNECT 2xx and 101 Upgrade switching the flow to an opaque
tunnel. Bodies are kept up to ``body_limit`` bytes each (Suricata's request/response-body-limit;
the rest is counted, not stored, and the transaction says ``request_truncated``), and
gzip/deflate bodies are decompressed for ``file.data`` / ``http.response_body`` as libhtp does,
with the output bounded by the same limit so a decompression bomb costs nothing.

Garbage never raises: the direction that cannot be parsed stops (``failed`` is set, the flow's
app layer then reports ``failed`` as Suricata does) and later bytes in it are ignored.

Buffer choices, after Suricata 7 (``detect-http-*.c``):

- ``http.header`` is every header as ``Name: value\\r\\n`` in arrival order, values trimmed,
  folded lines joined, a repeated header merged into its first occurrence with ``", "`` (libhtp's
  header table), and **without** ``Cookie`` (requests) / ``Set-Cookie`` (responses), which have
  ``http.cookie``. ``http.header.raw`` is the header block as received, ending with the empty line.
- ``http.header_names`` is ``\\r\\nName1\\r\\nName2\\r\\n\\r\\n``.
- ``http.start`` is the start line and header block as received.
- ``http.host`` is lowercased without port (from an absolute request-target first, as libhtp),
  ``http.host.raw`` the Host header as sent.
- ``http.uri`` is normalised (see :mod:`.http_normalize`), ``http.uri.raw`` is the request-target
  as sent.
- Names that exist on both sides (``http.header``, ``http.cookie``, ``http.content_type``,
  ``http.protocol``, ``file.data``, ...) take a ``direction``: ``tx.buffer("http.header",
  Direction.TO_CLIENT)`` is the response's. Without one, ``file.data`` is the response body and the
  others are the request's.
"""

from __future__ import annotations

import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from services.ips.layers.app.http_normalize import host_port, normalize_host, normalize_uri, split_uri
from services.ips.model import Direction

__all__ = [
    "HttpParser",
    "HttpTransaction",
    "HttpEvent",
    "RequestHeaders",
    "RequestComplete",
    "ResponseHeaders",
    "ResponseComplete",
    "DEFAULT_BODY_LIMIT",
    "HTTP_BUFFERS",
]

DEFAULT_BODY_LIMIT = 1 << 20
#: A header block larger than this without its terminating empty line fails the direction
#: (libhtp's field limit plays the same role).
MAX_HEAD = 64 * 1024

# Parser states per direction.
_HEAD, _BODY_LEN, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILERS, _BODY_CLOSE = range(7)
_WAIT, _TUNNEL, _FAILED = 7, 8, 9

_TOKEN_CHARS = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class HttpEvent:
    __slots__ = ("tx",)

    def __init__(self, tx: HttpTransaction) -> None:
        self.tx = tx

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tx#{self.tx.index})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.tx is other.tx  # type: ignore[attr-defined]

    __hash__ = object.__hash__


class RequestHeaders(HttpEvent):
    """Request line and headers parsed; header buffers are final, the body is not yet there."""


class RequestComplete(HttpEvent):
    """The request body (if any) is complete (or the stream ended / was cut)."""


class ResponseHeaders(HttpEvent):
    """Final (non-1xx) status line and headers parsed."""


class ResponseComplete(HttpEvent):
    """The response body is complete (or the stream ended / was cut)."""


def _header_value(headers: list[tuple[bytes, bytes]], lname: bytes) -> bytes | None:
    for name, value in headers:
        if name.lower() == lname:
            return value
    return None


class _Body:
    """Stores up to ``limit`` bytes of one message body, decompressing if asked."""

    __slots__ = ("data", "limit", "seen", "truncated", "gap", "_decomp", "_deflate_probe", "decode_error")

    def __init__(self, limit: int, encoding: bytes | None) -> None:
        self.data = bytearray()
        self.limit = limit
        self.seen = 0  # body bytes on the wire (de-chunked, before decompression)
        self.truncated = False
        self.gap = False
        self.decode_error = False
        self._decomp: zlib._Decompress | None = None
        self._deflate_probe = False
        enc = (encoding or b"").strip().lower()
        if enc in (b"gzip", b"x-gzip"):
            self._decomp = zlib.decompressobj(47)  # gzip or zlib header, auto-detected
        elif enc == b"deflate":
            # Servers send both zlib-wrapped and raw deflate under this name; probe the first bytes.
            self._decomp = zlib.decompressobj(15)
            self._deflate_probe = True

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self.seen += len(chunk)
        if self.truncated:
            return
        if self._decomp is not None and not self.decode_error:
            room = self.limit - len(self.data)
            try:
                out = self._decomp.decompress(chunk, room)
            except zlib.error:
                if self._deflate_probe and not self.data:
                    self._deflate_probe = False
                    self._decomp = zlib.decompressobj(-15)
                    self.seen -= len(chunk)
                    self.write(chunk)
                    return
                self.decode_error = True
                return
            self._deflate_probe = False
            self.data += out
            if self._decomp.unconsumed_tail:
                self.truncated = True
            return
        if self.decode_error:
            return
        room = self.limit - len(self.data)
        if len(chunk) > room:
            self.data += chunk[:room]
            self.truncated = True
        else:
            self.data += chunk

    def skip(self, n: int) -> None:
        self.seen += n
        self.gap = True
        if self._decomp is not None:
            self.decode_error = True  # a hole in a compressed stream cannot be decoded past


@dataclass(eq=False, slots=True)
class HttpTransaction:
    """One request/response pair. Values are bytes as on the wire unless named otherwise."""

    index: int
    method: bytes | None = None
    uri_raw: bytes | None = None
    protocol: bytes | None = None
    request_line: bytes | None = None
    request_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    request_headers_raw: bytes = b""
    request_complete: bool = False
    request_incomplete: bool = False  # stream ended or was cut before the body ended
    response_protocol: bytes | None = None
    status: int | None = None
    status_raw: bytes | None = None
    status_msg: bytes | None = None
    response_line: bytes | None = None
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    response_headers_raw: bytes = b""
    response_complete: bool = False
    response_incomplete: bool = False
    interim_statuses: list[int] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    _req_body: _Body | None = None
    _resp_body: _Body | None = None
    _cache: dict = field(default_factory=dict)

    # -- convenience ------------------------------------------------------------------------------
    def request_header(self, name: bytes | str) -> bytes | None:
        n = name.encode() if isinstance(name, str) else name
        return _header_value(self.request_headers, n.lower())

    def response_header(self, name: bytes | str) -> bytes | None:
        n = name.encode() if isinstance(name, str) else name
        return _header_value(self.response_headers, n.lower())

    @property
    def request_body(self) -> bytes:
        return bytes(self._req_body.data) if self._req_body else b""

    @property
    def response_body(self) -> bytes:
        return bytes(self._resp_body.data) if self._resp_body else b""

    @property
    def request_body_len(self) -> int:
        return self._req_body.seen if self._req_body else 0

    @property
    def response_body_len(self) -> int:
        return self._resp_body.seen if self._resp_body else 0

    @property
    def request_truncated(self) -> bool:
        return bool(self._req_body and self._req_body.truncated)

    @property
    def response_truncated(self) -> bool:
        return bool(self._resp_body and self._resp_body.truncated)

    @property
    def hostname(self) -> bytes | None:
        if self.uri_raw is not None:
            authority, _, _ = split_uri(self.uri_raw)
            if authority and self.method != b"CONNECT":
                return normalize_host(authority.rpartition(b"@")[2])
        host = self.request_header(b"host")
        return normalize_host(host) if host is not None else None

    # -- sticky buffers ---------------------------------------------------------------------------
    def buffer(self, name: str, direction: Direction | None = None) -> bytes | None:
        """The sticky buffer ``name`` (canonical names of the signature layer) or None if this
        transaction has no such value (yet). See the module docstring for the direction rule."""
        if direction is None:
            direction = Direction.TO_CLIENT if name in _DEFAULT_TO_CLIENT else Direction.TO_SERVER
        key = (name, direction)
        cache = self._cache
        if key in cache:
            return cache[key]
        table = _REQUEST_GETTERS if direction is Direction.TO_SERVER else _RESPONSE_GETTERS
        getter = table.get(name)
        if getter is None:
            return None
        value = getter(self)
        if name not in _BODY_NAMES:
            cache[key] = value
        return value

    def eve(self) -> dict:
        """Suricata's EVE ``http`` object for this transaction."""
        out: dict = {}
        host = self.hostname
        if host is not None:
            out["hostname"] = host.decode("latin-1")
        hp = self.request_header(b"host")
        port = host_port(hp) if hp is not None else None
        if port is not None:
            out["http_port"] = port
        if self.uri_raw is not None:
            out["url"] = self.uri_raw.decode("latin-1")
        for key, hname in (
            ("http_user_agent", b"user-agent"),
            ("http_content_type", None),
            ("http_refer", b"referer"),
            ("xff", b"x-forwarded-for"),
        ):
            if hname is None:
                v = self.response_header(b"content-type")
            else:
                v = self.request_header(hname)
            if v is not None:
                out[key] = v.decode("latin-1")
        if self.method is not None:
            out["http_method"] = self.method.decode("latin-1")
        proto = self.protocol or self.response_protocol
        if proto is not None:
            out["protocol"] = proto.decode("latin-1")
        if self.status is not None:
            out["status"] = self.status
        loc = self.response_header(b"location")
        if loc is not None:
            out["redirect"] = loc.decode("latin-1")
        out["length"] = self.response_body_len
        return out


def _joined_headers(headers: list[tuple[bytes, bytes]], skip: bytes) -> bytes:
    return b"".join(n + b": " + v + b"\r\n" for n, v in headers if n.lower() != skip)


def _names(headers: list[tuple[bytes, bytes]]) -> bytes:
    return b"\r\n" + b"".join(n + b"\r\n" for n, _ in headers) + b"\r\n"


def _hdr(lname: bytes, response: bool) -> Callable[[HttpTransaction], bytes | None]:
    if response:
        return lambda tx: _header_value(tx.response_headers, lname) if tx.response_line is not None else None
    return lambda tx: _header_value(tx.request_headers, lname) if tx.request_line is not None else None


def _req_start(tx: HttpTransaction) -> bytes | None:
    if tx.request_line is None:
        return None
    return tx.request_line + b"\r\n" + tx.request_headers_raw


def _resp_start(tx: HttpTransaction) -> bytes | None:
    if tx.response_line is None:
        return None
    return tx.response_line + b"\r\n" + tx.response_headers_raw


def _req_only(fn: Callable[[HttpTransaction], bytes | None]) -> Callable[[HttpTransaction], bytes | None]:
    return lambda tx: fn(tx) if tx.request_line is not None else None


def _resp_only(fn: Callable[[HttpTransaction], bytes | None]) -> Callable[[HttpTransaction], bytes | None]:
    return lambda tx: fn(tx) if tx.response_line is not None else None


_REQUEST_GETTERS: dict[str, Callable[[HttpTransaction], bytes | None]] = {
    "http.uri": lambda tx: normalize_uri(tx.uri_raw) if tx.uri_raw is not None else None,
    "http.uri.raw": lambda tx: tx.uri_raw,
    "http.method": lambda tx: tx.method,
    "http.protocol": lambda tx: tx.protocol,
    "http.request_line": lambda tx: tx.request_line,
    "http.host": lambda tx: tx.hostname,
    "http.host.raw": _hdr(b"host", False),
    "http.header": _req_only(lambda tx: _joined_headers(tx.request_headers, b"cookie")),
    "http.header.raw": _req_only(lambda tx: tx.request_headers_raw),
    "http.header_names": _req_only(lambda tx: _names(tx.request_headers)),
    "http.start": _req_start,
    "http.user_agent": _hdr(b"user-agent", False),
    "http.cookie": _hdr(b"cookie", False),
    "http.content_type": _hdr(b"content-type", False),
    "http.content_len": _hdr(b"content-length", False),
    "http.referer": _hdr(b"referer", False),
    "http.accept": _hdr(b"accept", False),
    "http.accept_enc": _hdr(b"accept-encoding", False),
    "http.accept_lang": _hdr(b"accept-language", False),
    "http.connection": _hdr(b"connection", False),
    "http.request_body": lambda tx: bytes(tx._req_body.data) if tx._req_body else None,
    "http.request_header": _req_only(lambda tx: _joined_headers(tx.request_headers, b"")),
}
_REQUEST_GETTERS["file.data"] = _REQUEST_GETTERS["http.request_body"]
_REQUEST_GETTERS["http.client_body"] = _REQUEST_GETTERS["http.request_body"]

_RESPONSE_GETTERS: dict[str, Callable[[HttpTransaction], bytes | None]] = {
    "http.stat_code": lambda tx: tx.status_raw,
    "http.stat_msg": lambda tx: tx.status_msg,
    "http.response_line": lambda tx: tx.response_line,
    "http.protocol": lambda tx: tx.response_protocol,
    "http.header": _resp_only(lambda tx: _joined_headers(tx.response_headers, b"set-cookie")),
    "http.header.raw": _resp_only(lambda tx: tx.response_headers_raw),
    "http.header_names": _resp_only(lambda tx: _names(tx.response_headers)),
    "http.start": _resp_start,
    "http.cookie": _hdr(b"set-cookie", True),
    "http.content_type": _hdr(b"content-type", True),
    "http.content_len": _hdr(b"content-length", True),
    "http.connection": _hdr(b"connection", True),
    "http.location": _hdr(b"location", True),
    "http.server": _hdr(b"server", True),
    "http.response_body": lambda tx: bytes(tx._resp_body.data) if tx._resp_body else None,
    "http.response_header": _resp_only(lambda tx: _joined_headers(tx.response_headers, b"")),
}
_RESPONSE_GETTERS["file.data"] = _RESPONSE_GETTERS["http.response_body"]
_RESPONSE_GETTERS["http.server_body"] = _RESPONSE_GETTERS["http.response_body"]

# Names only one side has resolve to that side whatever direction is asked for.
for _n, _g in list(_REQUEST_GETTERS.items()):
    _RESPONSE_GETTERS.setdefault(_n, _g)
for _n, _g in list(_RESPONSE_GETTERS.items()):
    _REQUEST_GETTERS.setdefault(_n, _g)

_DEFAULT_TO_CLIENT = frozenset({"file.data"})
_BODY_NAMES = frozenset({"http.request_body", "http.response_body", "file.data", "http.client_body", "http.server_body"})
#: Every buffer name ``HttpTransaction.buffer`` answers.
HTTP_BUFFERS = frozenset(_REQUEST_GETTERS)


def _parse_headers(block: bytes, anomalies: list[str]) -> list[tuple[bytes, bytes]]:
    """Header lines (without the start line) -> merged (name, value) list, libhtp style."""
    headers: list[tuple[bytes, bytes]] = []
    index: dict[bytes, int] = {}
    last = -1
    for line in block.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            continue
        if line[0] in (0x20, 0x09):
            if last >= 0:
                n, v = headers[last]
                headers[last] = (n, v + b" " + line.strip(b" \t") if v else line.strip(b" \t"))
                if "header_folding" not in anomalies:
                    anomalies.append("header_folding")
            else:
                anomalies.append("invalid_header")
            continue
        colon = line.find(b":")
        if colon <= 0:
            anomalies.append("invalid_header")
            continue
        name = line[:colon]
        if name[-1] in (0x20, 0x09):
            anomalies.append("header_name_whitespace")
            name = name.rstrip(b" \t")
        value = line[colon + 1 :].strip(b" \t")
        lname = name.lower()
        pos = index.get(lname)
        if pos is None:
            index[lname] = len(headers)
            last = len(headers)
            headers.append((name, value))
        else:
            n, v = headers[pos]
            headers[pos] = (n, v + b", " + value)
            last = pos
            if lname in (b"content-length", b"transfer-encoding", b"host"):
                anomalies.append(f"duplicate_{lname.decode()}")
    return headers


def _content_length(values: bytes | None, anomalies: list[str]) -> int | None:
    """First Content-Length value (duplicates were merged with ", "); invalid -> None."""
    if values is None:
        return None
    first = values.split(b",")[0].strip()
    if first.isdigit():
        return int(first)
    anomalies.append("invalid_content_length")
    return None


class _Side:
    __slots__ = ("buf", "state", "remaining", "tx", "body", "scan")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.state = _HEAD
        self.remaining = 0
        self.tx: HttpTransaction | None = None
        self.body: _Body | None = None
        self.scan = 0


class HttpParser:
    """HTTP/1.x for one connection. ``feed`` both directions in arrival order."""

    def __init__(self, *, body_limit: int = DEFAULT_BODY_LIMIT) -> None:
        self.body_limit = body_limit
        self.failed = False
        self.failure: str | None = None
        self.tunnel = False
        self.tx_count = 0
        self._req = _Side()
        self._resp = _Side()
        self._awaiting: deque[HttpTransaction] = deque()  # requests whose response has not started

    # -- public API ---------------------------------------------------------------------------------
    def feed(self, direction: Direction, data: bytes) -> list[HttpEvent]:
        events: list[HttpEvent] = []
        if not data:
            return events
        if direction is Direction.TO_SERVER:
            side = self._req
            if side.state >= _TUNNEL:
                return events
            side.buf += data
            self._run_request(events)
        else:
            side = self._resp
            if side.state >= _TUNNEL:
                return events
            side.buf += data
            self._run_response(events)
        return events

    def gap(self, direction: Direction, length: int) -> list[HttpEvent]:
        """``length`` bytes of this direction were lost (a reassembly gap). Inside a body of known
        size the body is marked and parsing goes on; anywhere else the direction cannot resync."""
        events: list[HttpEvent] = []
        side = self._req if direction is Direction.TO_SERVER else self._resp
        if side.state >= _TUNNEL:
            return events
        if side.buf:
            self._fail(side, "gap")
            return events
        if side.state in (_BODY_LEN, _CHUNK_DATA) and length <= side.remaining:
            assert side.body is not None
            side.body.skip(length)
            side.remaining -= length
            if side.state == _BODY_LEN and side.remaining == 0:
                if direction is Direction.TO_SERVER:
                    self._request_done(events)
                else:
                    self._response_done(events)
            elif side.state == _CHUNK_DATA and side.remaining == 0:
                side.state = _CHUNK_CRLF
            return events
        if side.state == _BODY_CLOSE:
            assert side.body is not None
            side.body.skip(length)
            return events
        self._fail(side, "gap")
        return events

    def eof(self, direction: Direction) -> list[HttpEvent]:
        """This direction ended (FIN/RST or the proxy's connection closed)."""
        events: list[HttpEvent] = []
        side = self._req if direction is Direction.TO_SERVER else self._resp
        if side.tx is not None and side.state in (_BODY_LEN, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILERS, _BODY_CLOSE):
            if side.state != _BODY_CLOSE:
                if direction is Direction.TO_SERVER:
                    side.tx.request_incomplete = True
                else:
                    side.tx.response_incomplete = True
            if direction is Direction.TO_SERVER:
                self._request_done(events)
            else:
                self._response_done(events)
        side.state = _TUNNEL if side.state != _FAILED else _FAILED
        return events

    def finish(self) -> list[HttpEvent]:
        """End of the connection: completes read-to-close responses and partial bodies."""
        return self.eof(Direction.TO_SERVER) + self.eof(Direction.TO_CLIENT)

    # -- internals ----------------------------------------------------------------------------------
    def _fail(self, side: _Side, why: str) -> None:
        side.state = _FAILED
        side.buf.clear()
        self.failed = True
        if self.failure is None:
            self.failure = why

    def _find_head_end(self, side: _Side, start: int) -> int:
        """Index just past the empty line ending the header block, or -1."""
        buf = side.buf
        pos = max(side.scan, start)
        a = buf.find(b"\n\r\n", pos)
        b = buf.find(b"\n\n", pos)
        if a == -1 and b == -1:
            side.scan = max(start, len(buf) - 2)
            return -1
        side.scan = 0
        if b != -1 and (a == -1 or b < a):
            return b + 2
        return a + 3

    def _body_mode(self, side: _Side, tx: HttpTransaction, headers: list[tuple[bytes, bytes]], *, response: bool) -> None:
        te = _header_value(headers, b"transfer-encoding")
        cl = _header_value(headers, b"content-length")
        enc = _header_value(headers, b"content-encoding")
        if te is not None and b"chunked" in te.lower():
            if cl is not None:
                tx.anomalies.append("content_length_with_chunked")
            side.body = _Body(self.body_limit, enc)
            side.state = _CHUNK_SIZE
            return
        length = _content_length(cl, tx.anomalies)
        if length is not None:
            side.body = _Body(self.body_limit, enc)
            side.remaining = length
            side.state = _BODY_LEN
            return
        if response:
            side.body = _Body(self.body_limit, enc)
            side.state = _BODY_CLOSE
            return
        side.body = None
        side.state = _HEAD

    # request side
    def _run_request(self, events: list[HttpEvent]) -> None:
        side = self._req
        while side.buf and side.state < _WAIT:
            st = side.state
            if st == _HEAD:
                if not self._request_head(side, events):
                    return
            elif not self._body_step(side, events, Direction.TO_SERVER):
                return

    def _request_head(self, side: _Side, events: list[HttpEvent]) -> bool:
        buf = side.buf
        # libhtp ignores empty lines before a request line (keep-alive clients send stray CRLFs).
        i = 0
        n = len(buf)
        while i < n and buf[i] in (0x0D, 0x0A):
            i += 1
        if i:
            del buf[:i]
            side.scan = 0
            if not buf:
                return False
        nl = buf.find(b"\n")
        if nl == -1:
            if len(buf) > MAX_HEAD:
                self._fail(side, "request line too long")
            elif not self._plausible_method(buf):
                self._fail(side, "not an HTTP request")
            return False
        line = bytes(buf[:nl]).rstrip(b"\r")
        parts = line.split()
        odd_target = len(parts) > 3 and not parts[-1].upper().startswith(b"HTTP/")
        if len(parts) < 2 or not self._plausible_method(parts[0]) or odd_target:
            self._fail(side, "invalid request line")
            return False
        if len(parts) == 2:
            # HTTP/0.9 simple request: no headers, no body.
            tx = self._new_tx()
            tx.method, tx.uri_raw, tx.request_line = parts[0], parts[1], line
            del buf[: nl + 1]
            self._awaiting.append(tx)
            tx.request_complete = True
            events.append(RequestHeaders(tx))
            events.append(RequestComplete(tx))
            return True
        end = self._find_head_end(side, nl - 1 if nl else 0)
        if end == -1:
            if len(buf) > MAX_HEAD:
                self._fail(side, "request header block too large")
            return False
        tx = self._new_tx()
        tx.method = parts[0]
        tx.uri_raw = b" ".join(parts[1:-1]) if len(parts) > 3 else parts[1]
        tx.protocol = parts[-1]
        tx.request_line = line
        tx.request_headers_raw = bytes(buf[nl + 1 : end])
        tx.request_headers = _parse_headers(tx.request_headers_raw, tx.anomalies)
        del buf[:end]
        self._awaiting.append(tx)
        side.tx = tx
        events.append(RequestHeaders(tx))
        self._body_mode(side, tx, tx.request_headers, response=False)
        if side.body is not None:
            tx._req_body = side.body
        if side.state == _HEAD or (side.state == _BODY_LEN and side.remaining == 0):
            self._request_done(events)
        return True

    @staticmethod
    def _plausible_method(data: bytes | bytearray) -> bool:
        head = data[:32]
        return bool(head) and all(c in _TOKEN_CHARS for c in head.split(b" ", 1)[0])

    def _new_tx(self) -> HttpTransaction:
        tx = HttpTransaction(self.tx_count)
        self.tx_count += 1
        return tx

    def _request_done(self, events: list[HttpEvent]) -> None:
        side = self._req
        tx = side.tx
        if tx is None:
            return
        tx.request_complete = True
        events.append(RequestComplete(tx))
        tx._cache.clear()
        side.tx = None
        side.body = None
        side.state = _HEAD
        # A tunnel may start here: the next bytes are not HTTP until the response says otherwise.
        if tx.method == b"CONNECT" or tx.request_header(b"upgrade") is not None:
            if not tx.response_complete and tx.status is None:
                side.state = _WAIT

    # response side
    def _run_response(self, events: list[HttpEvent]) -> None:
        side = self._resp
        while side.buf and side.state < _WAIT:
            if side.state == _HEAD:
                if not self._response_head(side, events):
                    return
            elif not self._body_step(side, events, Direction.TO_CLIENT):
                return

    def _response_head(self, side: _Side, events: list[HttpEvent]) -> bool:
        buf = side.buf
        i = 0
        n = len(buf)
        while i < n and buf[i] in (0x0D, 0x0A):
            i += 1
        if i:
            del buf[:i]
            side.scan = 0
            if not buf:
                return False
        if len(buf) < 5:
            if not b"HTTP/".startswith(bytes(buf).upper()):
                return self._response_not_http(side, events)
            return False
        if bytes(buf[:5]).upper() != b"HTTP/":
            return self._response_not_http(side, events)
        nl = buf.find(b"\n")
        if nl == -1:
            if len(buf) > MAX_HEAD:
                self._fail(side, "status line too long")
            return False
        end = self._find_head_end(side, nl - 1)
        if end == -1:
            if len(buf) > MAX_HEAD:
                self._fail(side, "response header block too large")
            return False
        line = bytes(buf[:nl]).rstrip(b"\r")
        parts = line.split(None, 2)
        if len(parts) < 2 or len(parts[1]) != 3 or not parts[1].isdigit():
            self._fail(side, "invalid status line")
            return False
        status = int(parts[1])
        raw_headers = bytes(buf[nl + 1 : end])
        del buf[:end]
        tx = self._awaiting[0] if self._awaiting else None
        if tx is None:
            tx = self._new_tx()
            tx.anomalies.append("response_without_request")
            self._awaiting.append(tx)
        if 100 <= status < 200 and status != 101:
            tx.interim_statuses.append(status)
            return True
        self._awaiting.popleft()
        tx.response_protocol = parts[0]
        tx.status = status
        tx.status_raw = parts[1]
        tx.status_msg = parts[2] if len(parts) > 2 else b""
        tx.response_line = line
        tx.response_headers_raw = raw_headers
        tx.response_headers = _parse_headers(raw_headers, tx.anomalies)
        tx._cache.clear()
        side.tx = tx
        events.append(ResponseHeaders(tx))
        if (tx.method == b"CONNECT" and 200 <= status < 300) or status == 101:
            self._start_tunnel()
            self._response_done(events)
            return False
        if self._req.state == _WAIT:
            self._req.state = _HEAD
            self._run_request(events)
        if tx.method == b"HEAD" or status in (204, 304) or status < 200:
            side.body = None
            side.state = _HEAD
            self._response_done(events)
            return True
        self._body_mode(side, tx, tx.response_headers, response=True)
        tx._resp_body = side.body
        if side.state == _BODY_LEN and side.remaining == 0:
            self._response_done(events)
        return True

    def _response_not_http(self, side: _Side, events: list[HttpEvent]) -> bool:
        # An HTTP/0.9 request gets a bare body until close; anything else is not HTTP.
        tx = self._awaiting[0] if self._awaiting else None
        if tx is not None and tx.protocol is None and tx.method is not None:
            self._awaiting.popleft()
            side.tx = tx
            tx.response_line = b""
            side.body = tx._resp_body = _Body(self.body_limit, None)
            side.state = _BODY_CLOSE
            events.append(ResponseHeaders(tx))
            return True
        self._fail(side, "invalid status line")
        return False

    def _start_tunnel(self) -> None:
        self.tunnel = True
        for s in (self._req, self._resp):
            s.buf.clear()
            s.state = _TUNNEL

    def _response_done(self, events: list[HttpEvent]) -> None:
        side = self._resp
        tx = side.tx
        if tx is None:
            return
        tx.response_complete = True
        tx._cache.clear()
        events.append(ResponseComplete(tx))
        side.tx = None
        side.body = None
        if side.state < _WAIT:
            side.state = _HEAD

    # bodies (both sides)
    def _body_step(self, side: _Side, events: list[HttpEvent], direction: Direction) -> bool:
        """Consume body bytes in the current state; False when more input is needed."""
        buf = side.buf
        st = side.state
        body = side.body
        assert body is not None
        if st == _BODY_LEN or st == _CHUNK_DATA:
            take = min(side.remaining, len(buf))
            if take:
                body.write(memoryview(buf)[:take])
                del buf[:take]
                side.remaining -= take
            if side.remaining:
                return False
            if st == _CHUNK_DATA:
                side.state = _CHUNK_CRLF
                return True
            self._done(direction, events)
            return True
        if st == _BODY_CLOSE:
            body.write(buf)
            buf.clear()
            return False
        nl = buf.find(b"\n")
        if nl == -1:
            if len(buf) > 4096 and st != _TRAILERS or len(buf) > MAX_HEAD:
                self._fail(side, "chunk framing")
            return False
        line = bytes(buf[:nl]).strip(b"\r\n \t")
        del buf[: nl + 1]
        if st == _CHUNK_CRLF:
            side.state = _CHUNK_SIZE
            if line:
                assert side.tx is not None
                side.tx.anomalies.append("chunk_data_overrun")
            return True
        if st == _CHUNK_SIZE:
            size_txt = line.split(b";", 1)[0].strip()
            try:
                size = int(size_txt, 16)
                if size < 0 or size_txt[:1] in (b"+", b"-") or len(size_txt) > 16:
                    raise ValueError
            except ValueError:
                if not line:
                    return True  # tolerate blank lines between chunks, as libhtp does
                self._fail(side, "invalid chunk size")
                return False
            if size == 0:
                side.state = _TRAILERS
            else:
                side.remaining = size
                side.state = _CHUNK_DATA
            return True
        # trailers: header lines until an empty line
        if not line:
            self._done(direction, events)
            return True
        tx = side.tx
        assert tx is not None
        trailer = _parse_headers(line, tx.anomalies)
        if direction is Direction.TO_SERVER:
            tx.request_headers.extend(trailer)
        else:
            tx.response_headers.extend(trailer)
        return True

    def _done(self, direction: Direction, events: list[HttpEvent]) -> None:
        if direction is Direction.TO_SERVER:
            self._request_done(events)
        else:
            self._response_done(events)
