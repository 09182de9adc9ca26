"""DNS messages over UDP and TCP: names, compression, transactions, EVE."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from services.ips.layers.app.dns import DnsParser, parse_message
from services.ips.model import Direction

C2S, S2C = Direction.TO_SERVER, Direction.TO_CLIENT


def qname(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def query(ident: int, *names: str, rrtype: int = 1) -> bytes:
    msg = struct.pack("!HHHHHH", ident, 0x0100, len(names), 0, 0, 0)
    for n in names:
        msg += qname(n) + struct.pack("!HH", rrtype, 1)
    return msg


def answer(ident: int, name: str) -> bytes:
    msg = struct.pack("!HHHHHH", ident, 0x8180, 1, 3, 0, 0)
    msg += qname(name) + struct.pack("!HH", 1, 1)
    # CNAME via a pointer to the question name (offset 12), then A and AAAA for the target
    target = b"\x03cdn" + b"\xc0\x0c"
    msg += b"\xc0\x0c" + struct.pack("!HHIH", 5, 1, 300, len(target)) + target
    cname_off = len(msg) - len(target)
    msg += struct.pack("!H", 0xC000 | cname_off) + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([93, 184, 216, 34])
    msg += b"\xc0\x0c" + struct.pack("!HHIH", 28, 1, 60, 16) + bytes.fromhex("20010db8000000000000000000000001")
    return msg


def test_udp_query_and_answer_transaction():
    p = DnsParser("udp")
    [tx] = p.feed(C2S, query(0x1234, "www.example.com"))
    assert tx.buffer("dns.query") == b"www.example.com"
    [tx2] = p.feed(S2C, answer(0x1234, "www.example.com"))
    assert tx2 is tx
    r = tx.response
    assert [a.rdata_text for a in r.answers] == ["cdn.www.example.com", "93.184.216.34", "2001:db8::1"]
    assert r.answers[1].rrname == b"cdn.www.example.com"
    eve = tx.eve()
    assert eve["query"] == [
        {"type": "query", "id": 0x1234, "rrname": "www.example.com", "rrtype": "A", "tx_id": 0, "opcode": 0}
    ]
    assert eve["answer"]["rcode"] == "NOERROR" and eve["answer"]["flags"] == "8180"
    assert eve["answer"]["rd"] and eve["answer"]["ra"] and eve["answer"]["qr"]
    assert eve["answer"]["answers"][0] == {"rrname": "www.example.com", "rrtype": "CNAME", "ttl": 300, "rdata": "cdn.www.example.com"}


def test_multiple_questions_are_a_multi_buffer():
    p = DnsParser()
    [tx] = p.feed(C2S, query(7, "a.example", "b.example", rrtype=16))
    assert tx.buffers("dns.query") == [b"a.example", b"b.example"]
    assert tx.eve()["query"][1]["rrtype"] == "TXT"


def test_tcp_framing_split_and_batched():
    msgs = [query(1, "one.test"), query(2, "two.test"), query(3, "three.test")]
    stream = b"".join(struct.pack("!H", len(m)) + m for m in msgs)
    p = DnsParser("tcp")
    got = []
    for i in range(0, len(stream), 7):
        got += p.feed(C2S, stream[i : i + 7])
    assert [t.buffer("dns.query") for t in got] == [b"one.test", b"two.test", b"three.test"]
    p2 = DnsParser("tcp")
    assert len(p2.feed(C2S, stream)) == 3


def test_compression_loop_is_malformed_not_a_hang():
    msg = struct.pack("!HHHHHH", 9, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c" + b"\0\x01\0\x01"
    m = parse_message(msg)
    assert m.malformed == "compression pointer loop" and m.questions == []
    # two pointers pointing at each other
    msg = struct.pack("!HHHHHH", 9, 0x0100, 1, 0, 0, 0) + b"\xc0\x0e\xc0\x0c" + b"\0\x01\0\x01"
    assert parse_message(msg).malformed == "compression pointer loop"


def test_truncated_and_garbage_messages():
    good = answer(5, "x.example")
    for cut in (3, 12, 20, len(good) - 3):
        m = parse_message(good[:cut])
        assert m.malformed
    p = DnsParser()
    [tx] = p.feed(C2S, b"\x00\x01")
    assert tx.request.malformed == "short header" and p.malformed == 1
    assert tx.buffer("dns.query") is None


def test_tcp_bogus_length_fails_flow():
    p = DnsParser("tcp")
    assert p.feed(C2S, b"\x00\x03abc") == []
    assert p.failed


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_random_bytes_never_raise(data):
    parse_message(data)
    parse_message(query(1, "a.b") + data)
    DnsParser("tcp").feed(S2C, data)
