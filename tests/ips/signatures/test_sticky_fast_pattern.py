"""Sticky buffers, legacy modifiers, protocols in the header, transforms and fast pattern choice."""

from __future__ import annotations

import pytest

from services.ips.model import AppProto
from services.ips.signatures import parse_rule
from services.ips.signatures.keywords.fast_pattern import pattern_strength
from tests.ips.signatures.helpers import matches, rule


def test_sticky_and_legacy_forms_give_the_same_buffers() -> None:
    sticky = rule('http.method; content:"POST"; http.uri; content:"/gate.php"; content:"id="; distance:0;')
    legacy = rule('content:"POST"; http_method; content:"/gate.php"; http_uri; content:"id="; http_uri; distance:0;')
    for sig in (sticky, legacy):
        assert sig.app_proto is AppProto.HTTP
        assert [(b.name, len(b.elements)) for b in sig.buffers] == [("http.method", 1), ("http.uri", 2)]
        uri = next(b for b in sig.buffers if b.name == "http.uri")
        assert uri.elements[1].relative
        assert matches(sig, b"/gate.php?id=1", "http.uri")


@pytest.mark.parametrize(
    ("keyword", "name"),
    [("file_data", "file.data"), ("dns_query", "dns.query"), ("tls_sni", "tls.sni"), ("ja3_hash", "ja3.hash"),
     ("http.request_body", "http.request_body"), ("http_client_body", "http.request_body"),
     ("http_raw_uri", "http.uri.raw"), ("http.header_names", "http.header_names"), ("tls.cert_subject", "tls.cert_subject")],
)
def test_names(keyword: str, name: str) -> None:
    options = f'content:"x"; {keyword};' if keyword in ("http_client_body", "http_raw_uri") else f'{keyword}; content:"x";'
    assert rule(options).buffer_names() == (name,)


def test_pkt_data_returns_to_payload_and_protocols() -> None:
    sig = rule('file_data; content:"MZ"; pkt_data; content:"HTTP/1.1";')
    assert sig.buffer_names() == ("file.data", "payload")
    dns = parse_rule('alert dns any any -> any any (dns.query; content:"evil"; sid:1;)')
    assert (dns.transport, dns.app_proto) == ("any", AppProto.DNS)
    tls = parse_rule('alert tls any any -> any any (tls.sni; content:"x"; sid:1;)')
    assert (tls.transport, tls.app_proto) == ("tcp", AppProto.TLS)
    plain = parse_rule("alert tcp-pkt any any -> any any (sid:1;)")
    assert plain.packet_only and plain.transport == "tcp"


def test_transforms() -> None:
    sig = parse_rule('alert dns any any -> any any (dns.query; dotprefix; content:".example.com"; endswith; sid:1;)')
    [buf] = sig.buffers
    assert [t.name for t in buf.transforms] == ["dotprefix"]
    assert matches(sig, b"example.com", "dns.query") and matches(sig, b"a.example.com", "dns.query")
    assert not matches(sig, b"notexample.com", "dns.query")
    assert sig.fast_pattern.transforms == ("dotprefix",)
    lower = rule('http.uri; to_lowercase; content:"/admin";')
    assert matches(lower, b"/ADMIN", "http.uri")
    mid = parse_rule('alert dns any any -> any any (dns.query; content:"rs-"; startswith; dotprefix; content:".rd.com"; endswith; sid:1;)')
    assert [(b.name, len(b.transforms)) for b in mid.buffers] == [("dns.query", 0), ("dns.query", 1)]


def test_fast_pattern_explicit_chop_and_only() -> None:
    fp = rule('content:"longer-one"; content:"short"; fast_pattern;').fast_pattern
    assert (fp.pattern, fp.explicit, fp.buffer) == (b"short", True, "payload")
    chop = rule('content:"abcdef"; fast_pattern:1,3;').fast_pattern
    assert (chop.pattern, chop.content) == (b"bcd", b"abcdef")
    only = rule('content:"abc"; nocase; fast_pattern:only;').fast_pattern
    assert only.only and only.nocase


def test_fast_pattern_chosen_like_suricata() -> None:
    # longest non-negated content; low-entropy buffers such as http.method lose to others
    fp = rule('content:!"muchlongernegated"; content:"abc"; content:"abcd";').fast_pattern
    assert fp.pattern == b"abcd"
    fp = rule('http.method; content:"PROPFIND"; http.uri; content:"/x";').fast_pattern
    assert (fp.buffer, fp.pattern) == ("http.uri", b"/x")
    # equal length: the more diverse pattern wins (Suricata's PatternStrength), then rule order
    fp = rule('content:"aaaa"; content:"ab1/";').fast_pattern
    assert fp.pattern == b"ab1/"
    assert pattern_strength(b"aaaa") < pattern_strength(b"ab1/")
    assert rule('content:!"x";').fast_pattern is None
    assert rule("").fast_pattern is None
