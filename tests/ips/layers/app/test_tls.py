"""TLS handshake parsing: SNI, JA3/JA3S, certificates, record/message fragmentation."""

from __future__ import annotations

import datetime
import hashlib
import struct

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ips.layers.app.tls import TlsCertificate, TlsClientHello, TlsParser, TlsServerHello, is_grease
from services.ips.model import Direction

C2S, S2C = Direction.TO_SERVER, Direction.TO_CLIENT


def u16(v: int) -> bytes:
    return struct.pack("!H", v)


def vec(data: bytes, n: int) -> bytes:
    return len(data).to_bytes(n, "big") + data


def ext(etype: int, data: bytes) -> bytes:
    return u16(etype) + vec(data, 2)


def handshake(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + vec(body, 3)


def record(ctype: int, body: bytes, version: int = 0x0301) -> bytes:
    return bytes([ctype]) + u16(version) + vec(body, 2)


CIPHERS = [0x1A1A, 0x1301, 0x1302, 0xC02B, 0xC02F, 0x009C]
GROUPS = [0x2A2A, 29, 23, 24]


def client_hello(sni: bytes = b"www.example.org") -> bytes:
    sni_ext = vec(b"\x00" + vec(sni, 2), 2)
    exts = (
        ext(0x0A0A, b"")  # GREASE extension
        + ext(0, sni_ext)
        + ext(23, b"")
        + ext(65281, b"\x00")
        + ext(10, vec(b"".join(u16(g) for g in GROUPS), 2))
        + ext(11, vec(b"\x00", 1))
        + ext(16, vec(vec(b"h2", 1) + vec(b"http/1.1", 1), 2))
        + ext(43, vec(u16(0x3A3A) + u16(0x0304) + u16(0x0303), 1))
    )
    body = (
        u16(0x0303) + bytes(32) + vec(b"\x11" * 32, 1) + vec(b"".join(u16(c) for c in CIPHERS), 2)
        + vec(b"\x00", 1) + vec(exts, 2)
    )
    return handshake(1, body)


EXPECTED_JA3 = "771,4865-4866-49195-49199-156,0-23-65281-10-11-16-43,29-23-24,0"


def server_hello(tls13: bool = False) -> bytes:
    exts = ext(65281, b"\x00") + ext(11, vec(b"\x00", 1))
    if tls13:
        exts = ext(43, u16(0x0304)) + ext(51, b"\x00\x1d" + vec(bytes(32), 2))
    body = u16(0x0303) + bytes(32) + vec(b"", 1) + u16(0xC02F) + b"\x00" + vec(exts, 2)
    return handshake(2, body)


def make_cert() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Org"),
            x509.NameAttribute(NameOID.COMMON_NAME, "www.example.org"),
        ]
    )
    issuer = x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "US"), x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(0x00E1F2A3)
        .not_valid_before(datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc))
        .not_valid_after(datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_grease():
    assert all(is_grease(v) for v in (0x0A0A, 0x1A1A, 0xFAFA))
    assert not any(is_grease(v) for v in (0x0A0B, 0x1301, 0x0A1A))


def test_client_hello_sni_and_ja3():
    p = TlsParser()
    ev = p.feed(C2S, record(22, client_hello()))
    assert [type(e) for e in ev] == [TlsClientHello]
    direction, s = ev[0]
    assert direction is C2S and s is p.session
    assert s.buffer("tls.sni") == b"www.example.org"
    assert s.ja3_string == EXPECTED_JA3
    assert s.buffer("ja3.hash") == hashlib.md5(EXPECTED_JA3.encode()).hexdigest().encode()
    assert s.alpn == [b"h2", b"http/1.1"] and s.client_versions == [0x0304, 0x0303]


def test_record_split_byte_by_byte_and_message_across_records():
    data = client_hello()
    # one handshake message spread over three records, then the records fed one byte at a time
    recs = record(22, data[:10]) + record(22, data[10:50]) + record(22, data[50:])
    p = TlsParser()
    ev = []
    for i in range(len(recs)):
        ev += p.feed(C2S, recs[i : i + 1])
    assert len(ev) == 1 and p.session.ja3_string == EXPECTED_JA3


def test_server_flight_with_certificate_in_one_record():
    der = make_cert()
    cert_msg = handshake(11, vec(vec(der, 3) + vec(b"\x30\x03\x02\x01\x01", 3), 3))
    flight = record(22, server_hello() + cert_msg + handshake(14, b""), 0x0303)
    p = TlsParser()
    p.feed(C2S, record(22, client_hello()))
    ev = p.feed(S2C, flight[:100]) + p.feed(S2C, flight[100:])
    assert [type(e) for e in ev] == [TlsServerHello, TlsCertificate]
    s = p.session
    assert s.version == "TLS 1.2" and s.cipher == 0xC02F
    assert s.ja3s_string == "771,49199,65281-11"
    assert s.subject == "C=US, O=Example Org, CN=www.example.org"
    assert s.issuer == "C=US, CN=Test CA"
    assert s.serial == "00:E1:F2:A3"
    assert s.fingerprint == ":".join(f"{b:02x}" for b in hashlib.sha1(der).digest())
    assert len(s.certs) == 2 and s.buffers("tls.certs")[0] == der
    eve = s.eve()
    assert eve["sni"] == "www.example.org" and eve["notbefore"] == "2024-01-02T03:04:05"
    assert eve["ja3"]["string"] == EXPECTED_JA3 and eve["ja3s"]["hash"] == s.ja3s_hash
    assert s.buffer("tls.cert_subject") == b"C=US, O=Example Org, CN=www.example.org"


def test_tls13_stops_at_encryption():
    p = TlsParser()
    p.feed(C2S, record(22, client_hello()))
    ev = p.feed(S2C, record(22, server_hello(tls13=True), 0x0303) + record(20, b"\x01", 0x0303) + record(23, b"\xde\xad" * 50, 0x0303))
    assert [type(e) for e in ev] == [TlsServerHello]
    assert p.session.version == "TLS 1.3" and p.encrypted[S2C] and not p.failed
    assert p.feed(S2C, b"whatever follows is ciphertext") == []


def test_bad_certificate_is_recorded_not_raised():
    p = TlsParser()
    p.feed(S2C, record(22, handshake(11, vec(vec(b"\x30\x82not der", 3), 3))))
    assert p.session.cert_error and p.session.subject is None and p.session.fingerprint
    assert not p.failed


def test_garbage_fails():
    for junk in (b"\x16\x07\x01\x00\x05hello", b"\x99\x03\x01\x00\x01x", b"\x16\x03\x01\xff\xff"):
        p = TlsParser()
        assert p.feed(C2S, junk) == []
        assert p.failed
    p = TlsParser()
    p.feed(C2S, record(22, handshake(1, b"\x03\x03short")))
    assert p.failed and p.failure == "truncated"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 300))
def test_random_bytes_never_raise(data, cut):
    p = TlsParser()
    p.feed(C2S, record(22, client_hello())[:cut] + data)
    p.feed(S2C, record(22, data))
