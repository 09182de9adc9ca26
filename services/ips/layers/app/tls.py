"""TLS handshake parser: SNI, versions, JA3/JA3S, the server certificate (TLS <= 1.2).

::

    p = TlsParser()
    events = p.feed(Direction.TO_SERVER, client_hello_bytes)   # [TlsClientHello(session)]
    p.session.buffer("tls.sni") == b"www.example.org"
    p.session.buffer("ja3.hash") == b"e7d705a3286e19ea42f587b344ee6865"

Records may be split across TCP segments and one record may carry several handshake messages
(or one message span several records): handshake bytes are reassembled per direction before
messages are parsed. Once a direction sends ChangeCipherSpec or application data it is encrypted
and nothing more is parsed there (in TLS 1.3 that includes the certificate, as for Suricata).

JA3 follows Salesforce's definition: ``SSLVersion,Ciphers,Extensions,EllipticCurves,
EllipticCurvePointFormats`` with decimal values joined by ``-``, GREASE values (RFC 8701,
``0x?a?a``) removed, MD5 of that string; JA3S is ``SSLVersion,Cipher,Extensions`` of the
ServerHello. Certificate fields are printed as Suricata's EVE prints them: subject/issuer as
``C=US, O=Example, CN=www.example.org`` (RDNs in certificate order), serial as colon-separated
upper-case hex of the DER integer, fingerprint as colon-separated lower-case SHA-1.
Malformed input sets ``failed`` and stops the parser; it never raises.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field

from services.ips.model import Direction

__all__ = [
    "TlsParser",
    "TlsSession",
    "TlsEvent",
    "TlsClientHello",
    "TlsServerHello",
    "TlsCertificate",
    "is_grease",
    "version_name",
]

_HANDSHAKE, _CCS, _ALERT, _APPDATA, _HEARTBEAT = 22, 20, 21, 23, 24
MAX_RECORD = (1 << 14) + 2048
MAX_HANDSHAKE = 256 * 1024

_VERSIONS = {0x0200: "SSLv2", 0x0300: "SSLv3", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}


def is_grease(v: int) -> bool:
    """RFC 8701 GREASE values: 0x0a0a, 0x1a1a, ... 0xfafa."""
    return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)


def version_name(v: int | None) -> str | None:
    if v is None:
        return None
    return _VERSIONS.get(v, f"0x{v:04x}")


class _Bad(Exception):
    pass


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise _Bad("truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u24(self) -> int:
        return int.from_bytes(self.take(3), "big")

    def vec(self, lenbytes: int) -> bytes:
        return self.take(int.from_bytes(self.take(lenbytes), "big"))

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


def _u16_list(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data) - 1, 2)]


@dataclass(eq=False, slots=True)
class TlsSession:
    """What the handshake revealed. Values are None until the message carrying them was seen."""

    client_version: int | None = None
    client_versions: list[int] = field(default_factory=list)  # supported_versions (TLS 1.3)
    sni: bytes | None = None
    alpn: list[bytes] = field(default_factory=list)
    ja3_string: str | None = None
    ja3_hash: str | None = None
    server_version: int | None = None  # negotiated (supported_versions in TLS 1.3)
    cipher: int | None = None
    ja3s_string: str | None = None
    ja3s_hash: str | None = None
    certs: list[bytes] = field(default_factory=list)  # DER chain as sent, server's first
    subject: str | None = None
    issuer: str | None = None
    serial: str | None = None
    fingerprint: str | None = None
    not_before: str | None = None
    not_after: str | None = None
    cert_error: str | None = None

    @property
    def version(self) -> str | None:
        return version_name(self.server_version or self.client_version)

    def buffers(self, name: str) -> list[bytes]:
        if name == "tls.certs":
            return list(self.certs)
        if name == "tls.alpn":
            return list(self.alpn)
        v = self.buffer(name)
        return [v] if v is not None else []

    def buffer(self, name: str, direction: Direction | None = None) -> bytes | None:
        value = {
            "tls.sni": self.sni,
            "tls.cert_subject": self.subject,
            "tls.cert_issuer": self.issuer,
            "tls.cert_serial": self.serial,
            "tls.cert_fingerprint": self.fingerprint,
            "ja3.hash": self.ja3_hash,
            "ja3.string": self.ja3_string,
            "ja3s.hash": self.ja3s_hash,
            "ja3s.string": self.ja3s_string,
        }.get(name)
        if value is None:
            return None
        return value.encode("latin-1") if isinstance(value, str) else value

    def eve(self) -> dict:
        """Suricata's EVE ``tls`` object."""
        out: dict = {}
        for key, val in (
            ("subject", self.subject),
            ("issuerdn", self.issuer),
            ("serial", self.serial),
            ("fingerprint", self.fingerprint),
            ("sni", self.sni.decode("latin-1") if self.sni is not None else None),
            ("version", self.version),
            ("notbefore", self.not_before),
            ("notafter", self.not_after),
        ):
            if val is not None:
                out[key] = val
        if self.ja3_hash is not None:
            out["ja3"] = {"hash": self.ja3_hash, "string": self.ja3_string}
        if self.ja3s_hash is not None:
            out["ja3s"] = {"hash": self.ja3s_hash, "string": self.ja3s_string}
        return out


class TlsEvent:
    """A handshake message was parsed; ``tls`` is the (shared, growing) session object.

    Unpacks as ``(direction, session)`` so drivers can write ``for d, tls in parser.feed(...)``."""

    __slots__ = ("tls", "direction")

    def __init__(self, tls: TlsSession, direction: Direction) -> None:
        self.tls = tls
        self.direction = direction

    def __iter__(self):
        return iter((self.direction, self.tls))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.direction.name})"


class TlsClientHello(TlsEvent):
    __slots__ = ()


class TlsServerHello(TlsEvent):
    __slots__ = ()


class TlsCertificate(TlsEvent):
    __slots__ = ()


def _name_string(name) -> str:  # cryptography.x509.Name
    parts = []
    for rdn in name.rdns:
        for attr in rdn:
            value = attr.value if isinstance(attr.value, str) else attr.value.hex()
            parts.append(f"{attr.rfc4514_attribute_name}={value}")
    return ", ".join(parts)


def _colon_hex(data: bytes, upper: bool) -> str:
    h = data.hex()
    if upper:
        h = h.upper()
    return ":".join(h[i : i + 2] for i in range(0, len(h), 2))


class TlsParser:
    """TLS handshake of one connection; feed each direction's stream bytes."""

    def __init__(self) -> None:
        self.session = TlsSession()
        self.failed = False
        self.failure: str | None = None
        self._rec = {Direction.TO_SERVER: bytearray(), Direction.TO_CLIENT: bytearray()}
        self._hs = {Direction.TO_SERVER: bytearray(), Direction.TO_CLIENT: bytearray()}
        self.encrypted = {Direction.TO_SERVER: False, Direction.TO_CLIENT: False}

    def feed(self, direction: Direction, data: bytes) -> list[TlsEvent]:
        if self.failed or self.encrypted[direction] or not data:
            return []
        events: list[TlsEvent] = []
        buf = self._rec[direction]
        buf += data
        try:
            while len(buf) >= 5 and not self.encrypted[direction]:
                ctype = buf[0]
                if buf[1] != 3:
                    raise _Bad("not a TLS record")
                length = (buf[3] << 8) | buf[4]
                if length > MAX_RECORD:
                    raise _Bad("record too long")
                if len(buf) < 5 + length:
                    break
                body = bytes(buf[5 : 5 + length])
                del buf[: 5 + length]
                if ctype == _HANDSHAKE:
                    hs = self._hs[direction]
                    hs += body
                    if len(hs) > MAX_HANDSHAKE:
                        raise _Bad("handshake message too large")
                    self._messages(direction, hs, events)
                elif ctype in (_CCS, _APPDATA):
                    self.encrypted[direction] = True
                elif ctype not in (_ALERT, _HEARTBEAT):
                    raise _Bad(f"unknown record type {ctype}")
        except _Bad as exc:
            self._fail(str(exc))
        if self.encrypted[direction]:
            buf.clear()
            self._hs[direction].clear()
        return events

    def _fail(self, why: str) -> None:
        self.failed = True
        self.failure = why
        for b in (*self._rec.values(), *self._hs.values()):
            b.clear()

    def _messages(self, direction: Direction, hs: bytearray, events: list[TlsEvent]) -> None:
        while len(hs) >= 4:
            mtype = hs[0]
            mlen = int.from_bytes(hs[1:4], "big")
            if mlen > MAX_HANDSHAKE:
                raise _Bad("handshake message too large")
            if len(hs) < 4 + mlen:
                return
            body = bytes(hs[4 : 4 + mlen])
            del hs[: 4 + mlen]
            if mtype == 1 and direction is Direction.TO_SERVER:
                self._client_hello(body)
                events.append(TlsClientHello(self.session, direction))
            elif mtype == 2 and direction is Direction.TO_CLIENT:
                self._server_hello(body)
                events.append(TlsServerHello(self.session, direction))
            elif mtype == 11 and direction is Direction.TO_CLIENT:
                self._certificate(body)
                events.append(TlsCertificate(self.session, direction))

    def _client_hello(self, body: bytes) -> None:
        s = self.session
        r = _Reader(body)
        s.client_version = r.u16()
        r.take(32)
        r.vec(1)
        ciphers = _u16_list(r.vec(2))
        r.vec(1)
        exts: list[int] = []
        groups: list[int] = []
        formats: list[int] = []
        if r.left:
            er = _Reader(r.vec(2))
            while er.left:
                etype = er.u16()
                edata = er.vec(2)
                exts.append(etype)
                if etype == 0:
                    s.sni = self._sni(edata)
                elif etype == 10 and len(edata) >= 2:
                    groups = _u16_list(_Reader(edata).vec(2))
                elif etype == 11 and edata:
                    formats = list(_Reader(edata).vec(1))
                elif etype == 43 and edata:
                    s.client_versions = [v for v in _u16_list(_Reader(edata).vec(1)) if not is_grease(v)]
                elif etype == 16 and len(edata) >= 2:
                    ar = _Reader(_Reader(edata).vec(2))
                    while ar.left:
                        s.alpn.append(ar.vec(1))

        def j(vals: list[int]) -> str:
            return "-".join(str(v) for v in vals if not is_grease(v))

        s.ja3_string = f"{s.client_version},{j(ciphers)},{j(exts)},{j(groups)},{j(formats)}"
        s.ja3_hash = hashlib.md5(s.ja3_string.encode(), usedforsecurity=False).hexdigest()

    @staticmethod
    def _sni(edata: bytes) -> bytes | None:
        lr = _Reader(_Reader(edata).vec(2))
        while lr.left:
            ntype = lr.u8()
            name = lr.vec(2)
            if ntype == 0:
                return name
        return None

    def _server_hello(self, body: bytes) -> None:
        s = self.session
        r = _Reader(body)
        legacy = r.u16()
        r.take(32)
        r.vec(1)
        s.cipher = r.u16()
        r.u8()
        exts: list[int] = []
        negotiated = legacy
        if r.left:
            er = _Reader(r.vec(2))
            while er.left:
                etype = er.u16()
                edata = er.vec(2)
                exts.append(etype)
                if etype == 43 and len(edata) == 2:
                    negotiated = int.from_bytes(edata, "big")
        s.server_version = negotiated
        s.ja3s_string = f"{legacy},{s.cipher},{'-'.join(str(e) for e in exts if not is_grease(e))}"
        s.ja3s_hash = hashlib.md5(s.ja3s_string.encode(), usedforsecurity=False).hexdigest()

    def _certificate(self, body: bytes) -> None:
        s = self.session
        r = _Reader(body)
        chain = _Reader(r.vec(3))
        certs = []
        while chain.left:
            certs.append(chain.vec(3))
        s.certs = certs
        if not certs:
            return
        der = certs[0]
        s.fingerprint = _colon_hex(hashlib.sha1(der, usedforsecurity=False).digest(), upper=False)
        try:
            from cryptography import x509

            with warnings.catch_warnings():
                # Odd but real certificates (negative serials, bad encodings) make cryptography
                # warn; they are evidence to inspect, not errors of ours.
                warnings.simplefilter("ignore")
                cert = x509.load_der_x509_certificate(der)
                s.subject = _name_string(cert.subject)
                s.issuer = _name_string(cert.issuer)
                serial = cert.serial_number
                raw = serial.to_bytes((serial.bit_length() + 8) // 8 or 1, "big", signed=True)
                s.serial = _colon_hex(raw, upper=True)
                s.not_before = cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%S")
                s.not_after = cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%S")
        except Exception as exc:  # any parse failure of attacker-controlled DER
            s.cert_error = f"{type(exc).__name__}: {exc}"
