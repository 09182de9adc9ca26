"""One request over one TCP connection, with the response read the way an HTTP/1.1 client reads it.

The connection is new for every stage (as go-ftw does), so a malformed request cannot poison the
next test. Anything that prevents a complete, parseable response (refused, reset, closed early,
timeout, garbage status line) is a :class:`SendError`: go-ftw reports these as errors, which pass
only a test that says ``expect_error: true``.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import BinaryIO


class SendError(ConnectionError):
    """The WAF gave no complete HTTP response (closed, reset, timed out or unparseable)."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    raw_head: str  # status line and headers as received, for response_contains

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None

    @property
    def text(self) -> str:
        return self.raw_head + "\r\n" + self.body.decode("utf-8", errors="replace")


def send(host: str, port: int, payload: bytes, *, method: str = "GET", timeout: float = 10.0) -> Response:
    """Write ``payload`` and read one response; SendError if none comes back complete."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise SendError(f"connect to {host}:{port} failed: {exc}") from exc
    try:
        send_error = ""
        try:
            sock.sendall(payload)
        except OSError as exc:
            # A server may answer (400, 413) and close before reading the rest: the answer still counts.
            send_error = f" (send failed first: {exc})"
        try:
            return _read_response(sock.makefile("rb"), method.strip().upper())
        except (OSError, ValueError) as exc:
            raise SendError(f"no complete HTTP response: {type(exc).__name__}: {exc}{send_error}") from exc
    finally:
        sock.close()


_MAX_LINE = 65536


def _line(f: BinaryIO) -> bytes:
    line = f.readline(_MAX_LINE + 1)
    if not line:
        raise ValueError("connection closed before the response was complete")
    if len(line) > _MAX_LINE:
        raise ValueError("response line longer than 64 KiB")
    return line


def _read_response(f: BinaryIO, method: str) -> Response:
    """Status line, headers, then the body framed by chunked, Content-Length or close (RFC 9112 6.3).

    Any ``HTTP/x.y`` version is accepted: the proxy answers in the version the client used, and a
    test that sends ``HTTP/2.0`` over a plain connection still gets a judgeable status.
    """
    status_line = _line(f).decode("latin-1").rstrip("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP status line: {status_line[:80]!r}")
    status = int(parts[1])
    headers: list[tuple[str, str]] = []
    while True:
        raw = _line(f).decode("latin-1").rstrip("\r\n")
        if not raw:
            break
        name, sep, value = raw.partition(":")
        if not sep:
            raise ValueError(f"malformed response header: {raw[:80]!r}")
        headers.append((name.strip(), value.strip()))
    head = status_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    lower = {k.lower(): v for k, v in headers}
    body = b""
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        pass
    elif "chunked" in lower.get("transfer-encoding", "").lower():
        chunks = bytearray()
        while True:
            size = int(_line(f).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while _line(f).strip():  # trailers
                    pass
                break
            chunks += _exactly(f, size)
            _line(f)
        body = bytes(chunks)
    elif "content-length" in lower:
        body = _exactly(f, int(lower["content-length"]))
    else:
        body = f.read()
    return Response(status=status, headers=tuple(headers), body=body, raw_head=head)


def _exactly(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ValueError(f"connection closed after {len(data)} of {n} body bytes")
    return data
