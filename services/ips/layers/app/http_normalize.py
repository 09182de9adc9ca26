"""URI and host normalisation for the HTTP sticky buffers, as Suricata's libhtp does it.

Suricata runs libhtp with the ``IDS`` server personality but switches lowercasing off
(signatures expect the case of the wire). For ``GET /a/./b/%2e%2e/C%20d%5cx?q=%41%2f`` that gives
``http.uri`` = ``/a/C d/x?q=A/``:

- the path is percent-decoded (``%2f`` too, "decode separators"), ``%uXXXX`` is decoded,
  backslashes become ``/``, runs of ``/`` collapse into one, UTF-8 sequences are folded to one byte
  each (libhtp's best-fit mapping: code points below 256 keep their value, full-width ASCII
  U+FF01..U+FF5E maps to ASCII, anything else becomes ``?``), then the dot segments are removed
  (RFC 3986 section 5.2.4);
- the query string goes through the same decoder (Suricata's query normalise hook) but keeps its
  dot segments; ``+`` stays ``+`` (Suricata turns libhtp's plus-space decoding off);
- invalid escapes (``%zz``, a lone ``%``) are kept as they are (libhtp's "preserve percent").

Only the path and query are kept for ``http.uri`` (Suricata's ``uri-include-all: false``): a proxy
request ``GET http://Example.org:8080/x HTTP/1.1`` inspects as ``/x`` and its host as
``example.org``.
"""

from __future__ import annotations

import re

__all__ = ["normalize_uri", "split_uri", "normalize_host", "decode_path"]

_ESCAPE = re.compile(rb"%(?:[uU]([0-9a-fA-F]{4})|([0-9a-fA-F]{2}))")
_SLASHES = re.compile(rb"/{2,}")
# A well-formed multi-byte UTF-8 sequence (no overlongs, no surrogates): only these are folded.
_UTF8_SEQ = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]"
    rb"|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)


def _best_fit(cp: int) -> int:
    if cp < 0x100:
        return cp
    if 0xFF01 <= cp <= 0xFF5E:  # full-width forms of ASCII: a classic IIS evasion
        return cp - 0xFEE0
    return 0x3F  # "?"


def _escape(m: re.Match[bytes]) -> bytes:
    u, h = m.group(1), m.group(2)
    if h is not None:
        return bytes((int(h, 16),))
    return bytes((_best_fit(int(u, 16)),))


def _utf8(m: re.Match[bytes]) -> bytes:
    return bytes((_best_fit(ord(m.group(0).decode("utf-8"))),))


def decode_path(data: bytes) -> bytes:
    """Percent-decode and clean one path (or query) component; see the module docstring."""
    if b"%" in data:
        data = _ESCAPE.sub(_escape, data)
    if b"\\" in data:
        data = data.replace(b"\\", b"/")
    if b"//" in data:
        data = _SLASHES.sub(b"/", data)
    if not data.isascii():
        data = _UTF8_SEQ.sub(_utf8, data)
    return data


def remove_dot_segments(path: bytes) -> bytes:
    """RFC 3986 section 5.2.4: ``/a/b/../c/./d`` -> ``/a/c/d``; never climbs above the root."""
    if b"." not in path:
        return path
    absolute = path.startswith(b"/")
    parts = path.split(b"/")
    if absolute:
        parts = parts[1:]
    out: list[bytes] = []
    last = len(parts) - 1
    for i, seg in enumerate(parts):
        if seg == b".":
            if i == last:
                out.append(b"")
            continue
        if seg == b"..":
            if out:
                out.pop()
            if i == last:
                out.append(b"")
            continue
        out.append(seg)
    joined = b"/".join(out)
    return b"/" + joined if absolute else joined


def split_uri(raw: bytes) -> tuple[bytes | None, bytes, bytes | None]:
    """Split a request-target into (authority, path, query).

    ``http://h:1/p?q`` -> ``(b"h:1", b"/p", b"q")``; ``/p`` -> ``(None, b"/p", None)``;
    CONNECT's ``host:443`` -> ``(b"host:443", b"", None)``.
    """
    authority = None
    rest = raw
    scheme_end = raw.find(b"://")
    if scheme_end > 0 and raw[:scheme_end].isalpha():
        after = raw[scheme_end + 3 :]
        cut = len(after)
        for sep in (b"/", b"?", b"#"):
            k = after.find(sep)
            if k != -1 and k < cut:
                cut = k
        authority = after[:cut]
        rest = after[cut:]
    elif not raw.startswith((b"/", b"*")) and b"/" not in raw and b"?" not in raw:
        return raw, b"", None
    frag = rest.find(b"#")
    if frag != -1:
        rest = rest[:frag]
    q = rest.find(b"?")
    if q == -1:
        return authority, rest, None
    return authority, rest[:q], rest[q + 1 :]


def normalize_uri(raw: bytes) -> bytes:
    """The ``http.uri`` value for a raw request-target (see the module docstring). CONNECT's
    authority-form target (``host:443``) has no path to normalise and is kept as sent."""
    authority, path, query = split_uri(raw)
    if authority is not None and not path and query is None and b"://" not in raw:
        return raw
    if path:
        path = remove_dot_segments(decode_path(path))
    if query is None:
        return path
    return path + b"?" + decode_path(query)


def normalize_host(value: bytes) -> bytes:
    """``http.host``: lowercased, port and trailing dots removed (``WWW.Example.ORG.:8080`` ->
    ``www.example.org``); an IPv6 literal keeps its brackets."""
    v = value.strip()
    if v.startswith(b"["):
        end = v.find(b"]")
        host = v[: end + 1] if end != -1 else v
    else:
        colon = v.rfind(b":")
        host = v[:colon] if colon != -1 else v
    return host.rstrip(b".").lower()


def host_port(value: bytes) -> int | None:
    """The port written in a Host header or authority, if any and valid."""
    v = value.strip()
    if v.startswith(b"["):
        end = v.find(b"]")
        tail = v[end + 1 :] if end != -1 else b""
    else:
        colon = v.rfind(b":")
        tail = v[colon:] if colon != -1 else b""
    if tail.startswith(b":") and tail[1:].isdigit() and len(tail) <= 6:
        port = int(tail[1:])
        return port if 0 < port < 65536 else None
    return None
