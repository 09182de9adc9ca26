"""Transformations of a sticky buffer before inspection: ``dotprefix``, ``to_lowercase`` ...

Example (match a domain and its subdomains, not ``notexample.com``)::

    dns.query; dotprefix; content:".example.com"; endswith;

Suricata 7 (``detect-transform-*.c``): a transform follows a sticky buffer and applies to the
contents after it; transforms chain in rule order. The transformed buffer
is a buffer of its own (``BufferInspection.transforms``), and the fast pattern carries the
transform names so the prefilter searches the same bytes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from services.ips.signatures.builder import Builder
from services.ips.signatures.keywords.base import Arg, keyword

_WS = re.compile(rb"[ \t\n\v\f\r]+")


@dataclass(frozen=True, slots=True)
class Transform:
    name: str

    def apply(self, data: bytes) -> bytes:
        name = self.name
        if name == "dotprefix":
            return b"." + data
        if name == "to_lowercase":
            return data.lower()
        if name == "to_uppercase":
            return data.upper()
        if name == "strip_whitespace":
            return _WS.sub(b"", data)
        if name == "compress_whitespace":
            return _WS.sub(b" ", data)
        if name == "url_decode":
            return unquote_to_bytes(data.replace(b"+", b" "))
        if name == "to_md5":
            return hashlib.md5(data).digest()
        if name == "to_sha1":
            return hashlib.sha1(data).digest()
        if name == "to_sha256":
            return hashlib.sha256(data).digest()
        raise AssertionError(name)


NAMES = ("dotprefix", "to_lowercase", "to_uppercase", "strip_whitespace", "compress_whitespace",
         "url_decode", "to_md5", "to_sha1", "to_sha256")


def _setup(name: str):
    def setup(b: Builder, arg: Arg) -> None:
        arg.none()
        sticky = b.sticky
        if sticky is None:
            raise arg.error("expected a sticky buffer before a transform (e.g. 'dns.query; dotprefix;')")
        # Suricata only requires an active sticky buffer; contents before the transform keep
        # inspecting the untransformed buffer, those after it the transformed one.
        if not sticky.items and b.drafts.get(sticky.key) is sticky:
            del b.drafts[sticky.key]
        b.sticky = b.buffer(sticky.name, (*sticky.transforms, Transform(name)))

    return setup


for _name in NAMES:
    keyword(_name)(_setup(_name))
