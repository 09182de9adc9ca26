"""Sticky buffers (``http.uri;``) and the legacy content modifiers (``content:"x"; http_uri;``).

Both name the buffer a content inspects; both map to one canonical name, the one the app-layer
parsers expose through ``tx.buffer(name)``::

    alert http any any -> any any (http.uri; content:"/cmd.php"; ...)   # Suricata 5+ sticky form
    alert http any any -> any any (content:"/cmd.php"; http_uri; ...)   # Snort-era modifier form

A sticky buffer applies to every following content/pcre/byte keyword until the next sticky
buffer (``pkt_data`` goes back to the packet payload). A legacy modifier moves the content just
before it, as Suricata does (``detect-http-uri.c``: ``DetectEngineContentModifierBufferSetup``),
which is only allowed while no sticky buffer is active. A buffer that exists for one protocol
only fixes the rule's protocol (an ``alert tcp`` rule using ``http.uri`` is an HTTP rule).
"""

from __future__ import annotations

from services.ips.model import AppProto
from services.ips.signatures.builder import PAYLOAD, Builder
from services.ips.signatures.keywords.base import Arg, keyword
from services.ips.signatures.keywords.content import last_content

H, D, T = AppProto.HTTP, AppProto.DNS, AppProto.TLS

# canonical name -> (protocol, other spellings accepted as sticky buffers)
STICKY: dict[str, tuple[AppProto | None, tuple[str, ...]]] = {
    "http.uri": (H, ()),
    "http.uri.raw": (H, ()),
    "http.method": (H, ()),
    "http.host": (H, ()),
    "http.host.raw": (H, ()),
    "http.header": (H, ()),
    "http.header.raw": (H, ()),
    "http.header_names": (H, ()),
    "http.user_agent": (H, ()),
    "http.cookie": (H, ()),
    "http.content_type": (H, ()),
    "http.content_len": (H, ()),
    "http.request_line": (H, ("http_request_line",)),
    "http.request_body": (H, ("http.client_body",)),
    "http.stat_code": (H, ()),
    "http.stat_msg": (H, ()),
    "http.response_line": (H, ("http_response_line",)),
    "http.response_body": (H, ("http.server_body",)),
    "http.start": (H, ("http_start",)),
    "http.protocol": (H, ("http_protocol",)),
    "http.referer": (H, ("http_referer",)),
    "http.accept": (H, ("http_accept",)),
    "http.accept_enc": (H, ("http_accept_enc",)),
    "http.accept_lang": (H, ("http_accept_lang",)),
    "http.connection": (H, ("http_connection",)),
    "http.location": (H, ()),
    "http.server": (H, ()),
    # file.data is multi-protocol in Suricata (HTTP bodies, SMTP attachments...); HTTP is the
    # only protocol here that carries files, so it fixes the protocol to HTTP.
    "file.data": (H, ("file_data",)),
    "dns.query": (D, ("dns_query",)),
    "tls.sni": (T, ("tls_sni",)),
    "tls.cert_subject": (T, ("tls_cert_subject",)),
    "tls.cert_issuer": (T, ("tls_cert_issuer",)),
    "tls.cert_serial": (T, ("tls_cert_serial",)),
    "tls.cert_fingerprint": (T, ("tls_cert_fingerprint",)),
    "tls.certs": (T, ()),
    "ja3.hash": (T, ("ja3_hash",)),
    "ja3.string": (T, ("ja3_string",)),
    "ja3s.hash": (T, ("ja3s_hash",)),
    "ja3s.string": (T, ("ja3s_string",)),
}

# Snort-era modifiers: act on the previous content.
MODIFIERS: dict[str, str] = {
    "http_uri": "http.uri",
    "http_raw_uri": "http.uri.raw",
    "http_method": "http.method",
    "http_header": "http.header",
    "http_raw_header": "http.header.raw",
    "http_cookie": "http.cookie",
    "http_user_agent": "http.user_agent",
    "http_host": "http.host",
    "http_raw_host": "http.host.raw",
    "http_client_body": "http.request_body",
    "http_server_body": "http.response_body",
    "http_stat_code": "http.stat_code",
    "http_stat_msg": "http.stat_msg",
}

SUPPORTED_BUFFERS = frozenset(STICKY) | {PAYLOAD}


def buffer_proto(name: str) -> AppProto | None:
    entry = STICKY.get(name)
    return entry[0] if entry else None


def _sticky(canonical: str):
    proto = STICKY[canonical][0]

    def setup(b: Builder, arg: Arg) -> None:
        arg.none()
        if proto is not None:
            b.use_app_proto(proto, arg, f"buffer '{canonical}'")
        b.sticky = b.buffer(canonical)
        b.sticky_fresh = True

    setup.__doc__ = f"Sticky buffer {canonical!r}."
    return setup


for _name, (_proto, _aliases) in STICKY.items():
    keyword(_name, *_aliases)(_sticky(_name))


@keyword("pkt_data")
def setup_pkt_data(b: Builder, arg: Arg) -> None:
    """Back to the packet/stream payload after a sticky buffer (``file_data; ... pkt_data;``)."""
    arg.none()
    b.sticky = None


def _modifier(name: str, canonical: str):
    def setup(b: Builder, arg: Arg) -> None:
        arg.none()
        c = last_content(b, arg)
        if c.draft.name != PAYLOAD or c.draft.transforms:
            raise arg.error(f"the content before it is already in buffer '{c.draft.name}'")
        if b.sticky is not None:
            raise arg.error(f"can't use the {name} modifier while sticky buffer '{b.sticky.name}' is active")
        b.use_app_proto(H, arg, f"modifier '{name}'")
        target = b.buffer(canonical)
        b.move(c, c.draft, target)
        c.draft = target

    setup.__doc__ = f"Legacy modifier: the previous content inspects {canonical!r}."
    return setup


for _name, _canonical in MODIFIERS.items():
    keyword(_name)(_modifier(_name, _canonical))
