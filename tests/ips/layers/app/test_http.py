"""HTTP/1.x parser: framing, sticky buffers, robustness."""

from __future__ import annotations

import gzip
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from services.ips.layers.app.http import (
    HttpParser,
    RequestComplete,
    RequestHeaders,
    ResponseComplete,
    ResponseHeaders,
)
from services.ips.layers.app.http_normalize import normalize_host, normalize_uri
from services.ips.model import Direction

C2S, S2C = Direction.TO_SERVER, Direction.TO_CLIENT


def run(*chunks: tuple[Direction, bytes], finish: bool = True, **kw):
    p = HttpParser(**kw)
    events = []
    for d, data in chunks:
        events += p.feed(d, data)
    if finish:
        events += p.finish()
    return p, events


def kinds(events):
    return [(type(e).__name__, e.tx.index) for e in events]


REQ = (
    b"GET /a/./b/../c%20d?x=%41&y=1+2 HTTP/1.1\r\n"
    b"Host: WWW.Example.ORG:8080\r\n"
    b"User-Agent: curl/8.0\r\n"
    b"Cookie: sid=1\r\n"
    b"Accept: */*\r\n"
    b"\r\n"
)
RESP = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/html\r\n"
    b"Set-Cookie: a=b\r\n"
    b"Content-Length: 5\r\n"
    b"\r\n"
    b"hello"
)


def test_simple_exchange_buffers():
    p, ev = run((C2S, REQ), (S2C, RESP))
    assert kinds(ev) == [
        ("RequestHeaders", 0),
        ("RequestComplete", 0),
        ("ResponseHeaders", 0),
        ("ResponseComplete", 0),
    ]
    tx = ev[0].tx
    assert tx.buffer("http.uri") == b"/a/c d?x=A&y=1+2"
    assert tx.buffer("http.uri.raw") == b"/a/./b/../c%20d?x=%41&y=1+2"
    assert tx.buffer("http.method") == b"GET"
    assert tx.buffer("http.host") == b"www.example.org"
    assert tx.buffer("http.host.raw") == b"WWW.Example.ORG:8080"
    assert tx.buffer("http.user_agent") == b"curl/8.0"
    assert tx.buffer("http.cookie") == b"sid=1"
    assert tx.buffer("http.request_line") == b"GET /a/./b/../c%20d?x=%41&y=1+2 HTTP/1.1"
    assert tx.buffer("http.header") == (
        b"Host: WWW.Example.ORG:8080\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n"
    )
    assert tx.buffer("http.header.raw") == REQ[REQ.index(b"\n") + 1 :]
    assert tx.buffer("http.header_names") == b"\r\nHost\r\nUser-Agent\r\nCookie\r\nAccept\r\n\r\n"
    assert tx.buffer("http.start") == REQ
    assert tx.buffer("http.protocol") == b"HTTP/1.1"
    # response side
    assert tx.buffer("http.stat_code") == b"200"
    assert tx.buffer("http.stat_msg") == b"OK"
    assert tx.buffer("http.response_line") == b"HTTP/1.1 200 OK"
    assert tx.buffer("http.header", S2C) == b"Content-Type: text/html\r\nContent-Length: 5\r\n"
    assert tx.buffer("http.cookie", S2C) == b"a=b"
    assert tx.buffer("http.content_type", S2C) == b"text/html"
    assert tx.buffer("http.content_type") is None
    assert tx.buffer("file.data") == b"hello"
    assert tx.buffer("http.response_body") == b"hello"
    assert tx.buffer("no.such.buffer") is None
    assert tx.eve() == {
        "hostname": "www.example.org",
        "http_port": 8080,
        "url": "/a/./b/../c%20d?x=%41&y=1+2",
        "http_user_agent": "curl/8.0",
        "http_content_type": "text/html",
        "http_method": "GET",
        "protocol": "HTTP/1.1",
        "status": 200,
        "length": 5,
    }
    assert not p.failed


def test_headers_event_before_body():
    p = HttpParser()
    ev = p.feed(C2S, b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n01234")
    assert kinds(ev) == [("RequestHeaders", 0)]
    assert ev[0].tx.buffer("http.request_body") == b"01234"
    ev = p.feed(C2S, b"56789GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
    assert kinds(ev) == [("RequestComplete", 0), ("RequestHeaders", 1), ("RequestComplete", 1)]
    assert ev[0].tx.request_body == b"0123456789"
    assert ev[1].tx.buffer("http.uri") == b"/next"


def test_pipelining_and_keepalive_match_responses_in_order():
    reqs = b"".join(b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i for i in range(3))
    resps = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
    )
    _, ev = run((C2S, reqs), (S2C, resps))
    done = [e.tx for e in ev if isinstance(e, ResponseComplete)]
    assert [(t.buffer("http.uri"), t.status, t.response_body) for t in done] == [
        (b"/0", 200, b"a"),
        (b"/1", 404, b""),
        (b"/2", 500, b"z"),
    ]


def test_chunked_with_extensions_and_trailers():
    req = (
        b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    p, ev = run((C2S, req))
    tx = ev[-1].tx
    assert isinstance(ev[-1], RequestComplete)
    assert tx.request_body == b"hello world"
    assert tx.request_header("x-trailer") == b"t"
    assert not p.failed


def test_chunked_beats_content_length_and_is_flagged():
    req = (
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nabcd\r\n0\r\n\r\n"
    )
    _, ev = run((C2S, req))
    tx = ev[-1].tx
    assert tx.request_body == b"abcd"
    assert "content_length_with_chunked" in tx.anomalies


def test_head_1xx_204_304_have_no_body():
    reqs = (
        b"HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n"
        b"GET /n HTTP/1.1\r\nHost: h\r\n\r\n"
        b"GET /m HTTP/1.1\r\nHost: h\r\n\r\n"
        b"POST /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    )
    resps = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"  # HEAD: the length describes GET's body
        b"HTTP/1.1 204 No Content\r\n\r\n"
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"
        b"HTTP/1.1 100 Continue\r\n\r\n"
    )
    p = HttpParser()
    ev = p.feed(C2S, reqs) + p.feed(S2C, resps)
    ev += p.feed(C2S, b"ok") + p.feed(S2C, b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nid")
    done = [e.tx for e in ev if isinstance(e, ResponseComplete)]
    assert [(t.method, t.status, t.response_body) for t in done] == [
        (b"HEAD", 200, b""),
        (b"GET", 204, b""),
        (b"GET", 304, b""),
        (b"POST", 201, b"id"),
    ]
    assert done[3].interim_statuses == [100]
    assert done[3].request_body == b"ok"
    assert not p.failed


def test_response_read_until_close():
    p = HttpParser()
    ev = p.feed(C2S, b"GET / HTTP/1.0\r\n\r\n")
    ev += p.feed(S2C, b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ")
    ev += p.feed(S2C, b"part two")
    assert not any(isinstance(e, ResponseComplete) for e in ev)
    ev = p.eof(S2C)
    assert kinds(ev) == [("ResponseComplete", 0)]
    assert ev[0].tx.response_body == b"part one, part two"
    assert not ev[0].tx.response_incomplete


def test_truncated_content_length_body_is_flagged_at_eof():
    _, ev = run((C2S, b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly this"))
    assert isinstance(ev[-1], RequestComplete)
    assert ev[-1].tx.request_incomplete
    assert ev[-1].tx.request_body == b"only this"


def test_body_limit_truncates_but_counts():
    body = b"A" * 5000
    _, ev = run(
        (C2S, b"GET / HTTP/1.1\r\n\r\n"),
        (S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + body),
        body_limit=1000,
    )
    tx = ev[-1].tx
    assert tx.response_body == b"A" * 1000
    assert tx.response_truncated and tx.response_body_len == 5000
    assert tx.eve()["length"] == 5000


def test_gzip_and_deflate_bodies_are_decompressed_for_file_data():
    payload = b"<script>evil()</script>" * 10
    raw_deflate = zlib.compressobj(wbits=-15)
    raw = raw_deflate.compress(payload) + raw_deflate.flush()
    for enc, data in (
        (b"gzip", gzip.compress(payload)),
        (b"deflate", zlib.compress(payload)),
        (b"deflate", raw),  # the "wrong" deflate that IIS sends
    ):
        resp = b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n" % (enc, len(data))
        _, ev = run((C2S, b"GET / HTTP/1.1\r\n\r\n"), (S2C, resp + data))
        tx = ev[-1].tx
        assert tx.buffer("file.data") == payload, enc
        assert tx.response_body_len == len(data)


def test_decompression_bomb_is_bounded():
    data = gzip.compress(b"\0" * (20 << 20))
    resp = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(data)
    _, ev = run((C2S, b"GET / HTTP/1.1\r\n\r\n"), (S2C, resp + data), body_limit=4096)
    tx = ev[-1].tx
    assert len(tx.response_body) == 4096 and tx.response_truncated


def test_folded_and_repeated_headers_merge_like_libhtp():
    req = b"GET / HTTP/1.1\r\nX-A: one\r\n  two\r\nX-B: 1\r\nx-b: 2\r\n\r\n"
    _, ev = run((C2S, req))
    tx = ev[0].tx
    assert tx.buffer("http.header") == b"X-A: one two\r\nX-B: 1, 2\r\n"
    assert "header_folding" in tx.anomalies


def test_bare_lf_line_endings():
    _, ev = run((C2S, b"GET /lf HTTP/1.1\nHost: h\n\n"), (S2C, b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"))
    assert ev[0].tx.buffer("http.host") == b"h"
    assert ev[-1].tx.response_body == b"ok"


def test_absolute_uri_and_connect_tunnel():
    req = b"GET http://Proxy.Example:3128/p?q HTTP/1.1\r\nHost: other\r\n\r\n"
    _, ev = run((C2S, req))
    assert ev[0].tx.buffer("http.uri") == b"/p?q"
    assert ev[0].tx.buffer("http.host") == b"proxy.example"

    p = HttpParser()
    ev = p.feed(C2S, b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n\x16\x03\x01")
    ev += p.feed(S2C, b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00")
    ev += p.feed(C2S, b"\x00\x05binary tunnel bytes")
    assert p.tunnel and not p.failed
    assert kinds(ev) == [("RequestHeaders", 0), ("RequestComplete", 0), ("ResponseHeaders", 0), ("ResponseComplete", 0)]


def test_refused_connect_resumes_parsing():
    p = HttpParser()
    ev = p.feed(C2S, b"CONNECT x:443 HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n")
    assert kinds(ev) == [("RequestHeaders", 0), ("RequestComplete", 0)]
    ev = p.feed(S2C, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    assert ("RequestHeaders", 1) in kinds(ev)
    assert not p.tunnel


def test_http09_request():
    _, ev = run((C2S, b"GET /old\r\n"), (S2C, b"<html>raw</html>"))
    tx = ev[0].tx
    assert tx.buffer("http.uri") == b"/old" and tx.protocol is None
    assert tx.response_body == b"<html>raw</html>"


def test_garbage_fails_without_raising():
    for junk in (b"\x00\x01\x02binary", b"\x16\x03\x01\x00\xa5\x01", b"GET\x00 / HTTP/1.1\r\n\r\n"):
        p = HttpParser()
        assert p.feed(C2S, junk) == []
        assert p.failed
        assert p.feed(C2S, b"GET / HTTP/1.1\r\n\r\n") == []  # the direction stays failed
    p = HttpParser()
    p.feed(C2S, b"GET / HTTP/1.1\r\n\r\n")
    p.feed(S2C, b"SSH-2.0-OpenSSH\r\n")
    assert p.failed and p.failure == "invalid status line"
    p = HttpParser()
    p.feed(C2S, b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert p.failed and p.failure == "invalid chunk size"


def test_oversized_header_block_fails():
    p = HttpParser()
    p.feed(C2S, b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 70000)
    assert p.failed


def test_gap_inside_body_is_survivable():
    p = HttpParser()
    ev = p.feed(C2S, b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
    ev += p.gap(C2S, 4)
    ev += p.feed(C2S, b"xyzGET /2 HTTP/1.1\r\n\r\n")
    assert kinds(ev)[-3:] == [("RequestComplete", 0), ("RequestHeaders", 1), ("RequestComplete", 1)]
    assert not p.failed
    p = HttpParser()
    p.feed(C2S, b"GET / HTTP/1.1\r\n\r\n")
    p.gap(C2S, 10)
    assert p.failed


def test_response_without_request():
    _, ev = run((S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    assert ev[0].tx.method is None and "response_without_request" in ev[0].tx.anomalies


def test_long_keepalive_flow_stays_small():
    p = HttpParser()
    for i in range(2000):
        p.feed(C2S, b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i)
        p.feed(S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
    assert p.tx_count == 2000
    assert not p._awaiting and not p._req.buf and not p._resp.buf


def test_normalize_uri_cases():
    cases = {
        b"/": b"/",
        b"/a/b/../../../../etc/passwd": b"/etc/passwd",
        b"/a//b\\c/./d/": b"/a/b/c/d/",
        b"/%2e%2e/%2E%2e/x": b"/x",
        b"/a%2fb": b"/a/b",
        b"/%u0041%uFF21": b"/AA",  # %u and full-width best fit
        b"/caf\xc3\xa9": b"/caf\xe9",
        b"/%zz%4": b"/%zz%4",
        b"/x?a=%27%20OR%201=1&b=../c": b"/x?a=' OR 1=1&b=../c",
        b"/p#frag": b"/p",
        b"*": b"*",
        b"example.org:443": b"example.org:443",
        b"http://h/a/../b": b"/b",
    }
    for raw, want in cases.items():
        assert normalize_uri(raw) == want, raw
    assert normalize_host(b"[::1]:80") == b"[::1]"
    assert normalize_host(b"EXAMPLE.org.") == b"example.org"


SESSION = (
    (C2S, b"POST /upload?id=%41 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
    (S2C, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone"),
    (C2S, b"GET /two HTTP/1.1\r\nHost: h2\r\nCookie: c=1\r\n\r\nHEAD /three HTTP/1.1\r\n\r\n"),
    (S2C, b"HTTP/1.1 302 Found\r\nLocation: /x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"),
    (S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"),
)


def _summary(events):
    out = []
    for e in events:
        tx = e.tx
        out.append(
            (
                type(e).__name__,
                tx.index,
                tx.buffer("http.uri"),
                tx.buffer("http.header"),
                tx.request_body,
                tx.status,
                tx.response_body,
            )
        )
    return out


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_splitting_never_changes_results(data):
    reference = _summary(run(*SESSION)[1])
    chunks = []
    for d, blob in SESSION:
        cuts = sorted(data.draw(st.sets(st.integers(1, len(blob) - 1), max_size=8)))
        prev = 0
        for c in [*cuts, len(blob)]:
            chunks.append((d, blob[prev:c]))
            prev = c
    assert _summary(run(*chunks)[1]) == reference


def test_byte_by_byte_equals_whole():
    reference = _summary(run(*SESSION)[1])
    chunks = [(d, blob[i : i + 1]) for d, blob in SESSION for i in range(len(blob))]
    assert _summary(run(*chunks)[1]) == reference


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([C2S, S2C]), st.binary(max_size=64)), max_size=12))
def test_random_bytes_never_raise(chunks):
    p = HttpParser()
    p.feed(C2S, b"POST / HTTP/1.1\r\n")
    for d, blob in chunks:
        p.feed(d, blob)
        p.gap(d, len(blob) % 7)
    p.finish()


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_sessions_never_raise(data):
    """Byte flips in a valid session reach the deep states (chunk sizes, trailers, 1xx...)."""
    p = HttpParser(body_limit=16)
    for d, blob in SESSION:
        b = bytearray(blob)
        for _ in range(data.draw(st.integers(0, 4))):
            i = data.draw(st.integers(0, len(b) - 1))
            b[i] = data.draw(st.sampled_from([0x00, 0x0A, 0x0D, 0x20, 0x3A, 0x30, 0x66, 0xFF]))
        cut = data.draw(st.integers(0, len(b)))
        for ev in p.feed(d, bytes(b[:cut])) + p.feed(d, bytes(b[cut:])):
            for name in ("http.uri", "http.header", "http.host", "file.data", "http.start"):
                ev.tx.buffer(name)
                ev.tx.buffer(name, S2C)
            ev.tx.eve()
    p.finish()


def test_event_classes_compare_by_tx():
    _, ev = run((C2S, b"GET / HTTP/1.1\r\n\r\n"))
    assert ev[0] == RequestHeaders(ev[0].tx) and ev[0] != ResponseHeaders(ev[0].tx)
