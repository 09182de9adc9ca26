"""Turn a stage's input into the exact bytes go-ftw would put on the wire.

go-ftw writes ``METHOD SP URI SP VERSION CRLF``, the headers in the order the test lists them,
``CRLF``, then ``data`` untouched. Unless the test turns it off (``autocomplete_headers: false``, or
ftw's ``stop_magic: true``), it adds ``Content-Length`` when there is data and the test set none, ``Content-Type:
application/x-www-form-urlencoded`` when there is data and no Content-Type (ftw's default, which
about 640 CRS 3.3 tests rely on to have their payload parsed as ARGS_POST), and ``Connection:
close`` when the test set no Connection header. ``raw_request`` / ``encoded_request``
are sent as they are, byte for byte. Nothing is validated: malformed requests are the point of many
tests (920100's tab before the method, 920170's GET with a body, ...).
"""

from __future__ import annotations

from services.waf.regress.model import StageInput

CRLF = b"\r\n"


def _wire(text: str) -> bytes:
    # go-ftw holds YAML strings as Go strings, i.e. UTF-8: a "\xac" escape in a test is U+00AC and goes
    # out as C2 AC. CRS tests depend on it (944200-0FP is the "\xac\xed" text that must NOT look
    # like Java serialization; its binary twin uses encoded_request).
    return text.encode("utf-8", errors="surrogateescape")


def build_request(inp: StageInput, *, host_override: str | None = None) -> bytes:
    """The request bytes for one stage. ``host_override`` replaces the Host header's value (only)."""
    if inp.raw_request is not None:
        return inp.raw_request
    data = _wire(inp.data) if inp.data is not None else b""
    headers = list(inp.headers)
    if host_override is not None:
        headers = [(k, host_override if k.lower() == "host" else v) for k, v in headers]
    if inp.autocomplete:
        names = {k.lower() for k, _ in headers}
        if data and "content-length" not in names:
            headers.append(("Content-Length", str(len(data))))
        if data and "content-type" not in names:
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        if "connection" not in names:
            headers.append(("Connection", "close"))
    out = bytearray(_wire(f"{inp.method} {inp.uri} {inp.version}") + CRLF)
    for name, value in headers:
        out += _wire(f"{name}: {value}") + CRLF
    out += CRLF
    out += data
    return bytes(out)
