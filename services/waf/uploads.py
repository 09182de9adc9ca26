"""The files in a request, for sites with antivirus on.

Files are the multipart parts that carry a filename (HTML file inputs), and raw PUT bodies or
POST/PATCH bodies whose media type is not a structured API format (form, JSON, XML, plain text):
a PUT of ``shell.php`` as ``text/x-php`` is an upload even though it is text. Multipart is read
with the engine's strict parser, so the WAF and the antivirus see the same parts.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from services.waf.variables.multipart import parse_multipart

# Structured request formats that are API payloads, not files.
_NOT_FILES = ("application/x-www-form-urlencoded", "application/json", "application/xml", "text/xml",
              "text/plain", "application/graphql", "application/csp-report")
MAX_FILES = 100


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    field: str | None
    data: bytes


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_file_body(method: str, content_type: str) -> bool:
    if method == "PUT":
        return True
    if method not in ("POST", "PATCH"):
        return False
    media = _media_type(content_type)
    if not media:
        return True
    if media in _NOT_FILES or media.startswith("multipart/"):
        return False
    return not (media.endswith("+json") or media.endswith("+xml"))


def extract_uploads(method: str, target: str, content_type: str, body: bytes) -> list[Upload]:
    if not body:
        return []
    if _media_type(content_type) == "multipart/form-data":
        result = parse_multipart(body.decode("latin-1"), content_type, MAX_FILES)
        return [Upload(name=_text(f.filename) or "upload", field=_text(f.field), data=f.content.encode("latin-1"))
                for f in result.files]
    if is_file_body(method, content_type):
        path = unquote(urlsplit(target).path)
        return [Upload(name=posixpath.basename(path) or "body", field=None, data=body)]
    return []


def _text(wire: str) -> str:
    return wire.encode("latin-1").decode("utf-8", "replace")
