"""The detection engine on hand-written rules: every inspection kind, both matcher backends.

Each test builds an engine from a few rules of our own, drives a FlowDetector the way the inline
proxy does (``on_established``, then ``on_packet`` + ``on_stream`` per chunk) and checks which
sids fire, in which direction, how often.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ips.detect import DetectEngine, Verdict
from services.ips.model import Direction, FlowTuple
from services.ips.signatures import RuleVariables, parse_rule

C2S, S2C = Direction.TO_SERVER, Direction.TO_CLIENT
WEB = FlowTuple("tcp", "203.0.113.7", 51000, "10.1.0.5", 80)
DNS = FlowTuple("udp", "10.1.0.9", 53001, "10.1.0.53", 53)
VARS = RuleVariables.from_mapping({"address-groups": {"HOME_NET": "[10.1.0.0/16]", "EXTERNAL_NET": "!$HOME_NET"}})


@pytest.fixture(params=["hyperscan", "python"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def engine(backend: str, *rules: str) -> DetectEngine:
    return DetectEngine.build([parse_rule(r, variables=VARS) for r in rules], backend=backend)


def drive(eng: DetectEngine, exchanges, flow: FlowTuple = WEB) -> list[tuple[int, Direction]]:
    det = eng.new_flow(flow, flow_id=7, ts=1.0)
    hits = det.on_established(1.0) if flow.proto == "tcp" else []
    ts = 1.0
    for direction, data in exchanges:
        ts += 0.01
        hits += det.on_packet(direction, data, ts)
        if flow.proto == "tcp":
            hits += det.on_stream(direction, data, ts)
    hits += det.on_close(ts)
    return [(h.sig.sid, h.direction) for h in hits]


GET = b"GET /cgi-bin/../etc/passwd?x=1 HTTP/1.1\r\nHost: Shop.Example\r\nUser-Agent: sqlmap/1.7\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nroot:x:0:0:"


def test_stream_content_split_across_chunks_fires_once(backend: str) -> None:
    eng = engine(backend, 'alert tcp any any -> any any (msg:"m"; content:"${jndi:ldap"; sid:1;)')
    got = drive(eng, [(C2S, b"X-Api: ${jn"), (C2S, b"di:l"), (C2S, b"dap://a/}"), (C2S, b"${jndi:ldap again")])
    assert got == [(1, C2S)]


def test_depth_counts_from_the_start_of_the_stream(backend: str) -> None:
    eng = engine(backend, 'alert tcp any any -> any any (content:"SSH-"; depth:4; sid:2;)')
    assert drive(eng, [(C2S, b"SS"), (C2S, b"H-2.0-x\r\n")]) == [(2, C2S)]
    assert drive(eng, [(C2S, b"hello "), (C2S, b"SSH-2.0")]) == []


def test_http_buffers_and_header_check(backend: str) -> None:
    eng = engine(
        backend,
        'alert http $EXTERNAL_NET any -> $HOME_NET any (flow:to_server,established; http.uri; content:"/etc/passwd"; sid:10;)',
        'alert http $HOME_NET any -> $EXTERNAL_NET any (flow:to_server; http.uri; content:"/etc/passwd"; sid:11;)',
        'alert http any any -> any any (http.user_agent; content:"sqlmap"; startswith; sid:12;)',
        'alert http any any -> any any (flow:to_client; http.stat_code; content:"200"; file.data; content:"root:x:0:0"; sid:13;)',
        'alert http any any -> any any (http.host; content:"shop.example"; bsize:12; sid:14;)',
    )
    got = drive(eng, [(C2S, GET), (S2C, OK)])
    assert sorted(got) == [(10, C2S), (12, C2S), (13, S2C), (14, C2S)]


def test_body_rules_wait_for_the_whole_body(backend: str) -> None:
    eng = engine(backend, 'alert http any any -> any any (http.request_body; content:"password="; sid:20;)')
    head = b"POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 26\r\n\r\n"
    assert drive(eng, [(C2S, head), (C2S, b"user=bob&"), (C2S, b"password=hunter")]) == [(20, C2S)]


def test_flowbits_set_noalert_then_isset(backend: str) -> None:
    eng = engine(
        backend,
        'alert tcp any any -> any any (flow:to_server; content:"LOGIN"; flowbits:set,login; flowbits:noalert; sid:30;)',
        'alert tcp any any -> any any (flow:to_client; content:"230 "; flowbits:isset,login; sid:31;)',
        'alert tcp any any -> any any (flow:to_client; content:"230 "; flowbits:isnotset,login; sid:32;)',
    )
    assert drive(eng, [(C2S, b"LOGIN bob\r\n"), (S2C, b"230 welcome\r\n")]) == [(31, S2C)]
    assert drive(eng, [(C2S, b"HELLO\r\n"), (S2C, b"230 welcome\r\n")]) == [(32, S2C)]


def test_threshold_limit_by_src_spans_flows(backend: str) -> None:
    eng = engine(backend, 'alert tcp any any -> any any (content:"probe"; threshold:type limit, track by_src, count 2, seconds 60; sid:40;)')
    fired = [drive(eng, [(C2S, b"probe")]) for _ in range(4)]
    assert fired == [[(40, C2S)], [(40, C2S)], [], []]


def test_pass_stops_inspection_and_drop_is_a_verdict(backend: str) -> None:
    eng = engine(
        backend,
        'pass tcp any any -> any any (content:"trusted-scanner"; sid:50;)',
        'drop tcp any any -> any any (content:"evil"; sid:51;)',
        'alert tcp any any -> any any (content:"more"; sid:52;)',
    )
    det = eng.new_flow(WEB, flow_id=1, ts=0)
    det.on_established(0)
    assert [h.sig.sid for h in det.on_stream(C2S, b"trusted-scanner evil more", 0)] == []
    assert det.verdict is Verdict.PASS and not det.inspecting
    det = eng.new_flow(WEB, flow_id=2, ts=0)
    det.on_established(0)
    hits = det.on_stream(C2S, b"evil", 0)
    assert [(h.sig.sid, h.action) for h in hits] == [(51, "drop")] and det.verdict is Verdict.DROP
    # an IDS (replay, detect mode) keeps inspecting a flow it would have dropped
    assert [h.sig.sid for h in det.on_stream(C2S, b" and more", 0)] == [52]


def test_ip_only_rule_fires_once_per_direction(backend: str) -> None:
    eng = engine(backend, "alert ip [203.0.113.0/24] any <> $HOME_NET any (sid:60;)")
    got = drive(eng, [(C2S, b"a"), (S2C, b"b"), (C2S, b"c")])
    assert sorted(got) == [(60, C2S), (60, S2C)]


def test_packet_rules_dsize_and_dns(backend: str) -> None:
    eng = engine(
        backend,
        'alert udp any any -> any 53 (dsize:>40; sid:70;)',
        'alert dns any any -> any any (dns.query; content:"evil.example"; nocase; endswith; sid:71;)',
        'alert udp any any -> any any (content:"|01 00 00 01|"; offset:2; depth:4; sid:72;)',
    )
    query = bytes.fromhex("abcd01000001000000000000") + b"\x04EVIL\x07example\x00\x00\x01\x00\x01"
    got = drive(eng, [(C2S, query), (C2S, query)], flow=DNS)
    assert got == [(71, C2S), (72, C2S), (71, C2S), (72, C2S)]


def test_header_direction_and_addresses_are_respected(backend: str) -> None:
    eng = engine(backend, 'alert tcp $HOME_NET any -> $EXTERNAL_NET any (content:"x"; sid:80;)')
    assert drive(eng, [(C2S, b"x")]) == []  # client is external
    assert drive(eng, [(S2C, b"x")]) == [(80, S2C)]


SPLIT_RULES = (
    'alert tcp any any -> any any (content:"GET"; depth:3; content:"/admin"; distance:1; within:10; sid:90;)',
    'alert http any any -> any any (http.uri; content:"/admin"; http.header; content:"X-Debug|3a| 1"; sid:91;)',
    'alert tcp any any -> any any (content:"Cookie"; pcre:"/^:\\s*session=[a-f0-9]{8}/R"; sid:92;)',
)
STREAM = b"GET /admin/panel HTTP/1.1\r\nHost: a\r\nX-Debug: 1\r\nCookie: session=deadbeef\r\n\r\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=8, unique=True))
def test_alerts_do_not_depend_on_segmentation(cuts: list[int]) -> None:
    eng = _split_engine()
    bounds = [0, *sorted(cuts), len(STREAM)]
    chunks = [(C2S, STREAM[a:b]) for a, b in zip(bounds, bounds[1:])]
    assert sorted(drive(eng, chunks)) == [(90, C2S), (91, C2S), (92, C2S)]


_SPLIT: list[DetectEngine] = []


def _split_engine() -> DetectEngine:
    if not _SPLIT:
        _SPLIT.append(engine("hyperscan", *SPLIT_RULES))
    return _SPLIT[0]


def test_tls_rule_spanning_client_hello_and_certificate(backend: str) -> None:
    from tests.ips.layers.app.test_tls import client_hello, handshake, make_cert, record, server_hello, vec

    eng = engine(
        backend,
        'alert tls any any -> any any (tls.sni; content:"www.example.org"; tls.cert_issuer; content:"CN=Test CA"; sid:100;)',
        'alert tls any any -> any any (tls.sni; content:"www.example.org"; bsize:15; sid:101;)',
        'alert tls any any -> any any (tls.cert_subject; content:"O=Example Org"; sid:102;)',
    )
    flow = FlowTuple("tcp", "10.1.0.9", 50000, "198.51.100.4", 443)
    hello = record(22, client_hello())
    flight = record(22, server_hello() + handshake(11, vec(vec(make_cert(), 3), 3)), 0x0303)
    got = drive(eng, [(C2S, hello[:20]), (C2S, hello[20:]), (S2C, flight[:30]), (S2C, flight[30:])], flow=flow)
    assert sorted(got) == [(100, S2C), (101, C2S), (102, S2C)]


def test_stream_size_counts_each_sides_progress(backend: str) -> None:
    eng = engine(backend, 'alert tcp any any -> any any (flow:established,to_server; content:"HELO"; '
                          'stream_size:server,<,5; sid:110;)')
    assert drive(eng, [(C2S, b"HELO a\r\n")]) == [(110, C2S)]  # the server has sent nothing (its SYN: 1)
    assert drive(eng, [(S2C, b"220 mail ready\r\n"), (C2S, b"HELO a\r\n")]) == []


def test_app_rule_with_a_payload_fast_pattern_is_found_through_the_stream(backend: str) -> None:
    eng = engine(backend, 'alert http any any -> any any (flow:to_server; content:"X-Tracker-Token"; '
                          'http.uri; content:"/t"; sid:120;)')
    assert eng.stats["app_rules_on_stream_patterns"] == 1
    request = b"GET /t?a=1 HTTP/1.1\r\nHost: a\r\nX-Tracker-Token: 1\r\n\r\n"
    assert drive(eng, [(C2S, request[:30]), (C2S, request[30:])]) == [(120, C2S)]
    assert drive(eng, [(C2S, request.replace(b"Tracker", b"Other"))]) == []
