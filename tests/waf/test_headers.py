from services.waf.headers import client_response_headers, upstream_request_headers


def test_hop_by_hop_and_connection_named_headers_are_dropped() -> None:
    raw = [("Host", "a.local"), ("Connection", "keep-alive, X-Secret"), ("X-Secret", "s"), ("Keep-Alive", "300"),
           ("TE", "trailers"), ("Upgrade", "h2c"), ("Content-Length", "3"), ("Expect", "100-continue"),
           ("X-Kept", "1")]
    out = upstream_request_headers(raw, client_ip="10.1.2.3", scheme="https")
    names = [n for n, _ in out]
    assert names == ["Host", "X-Kept", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"]
    assert ("X-Forwarded-Proto", "https") in out


def test_x_forwarded_for_is_appended_and_proto_host_cannot_be_spoofed() -> None:
    raw = [("Host", "a.local"), ("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https"),
           ("X-Forwarded-Host", "evil.example")]
    out = dict(upstream_request_headers(raw, client_ip="10.1.2.3", scheme="http"))
    assert out["X-Forwarded-For"] == "203.0.113.9, 10.1.2.3"
    assert out["X-Forwarded-Proto"] == "http"
    assert out["X-Forwarded-Host"] == "a.local"


def test_response_framing_and_hop_by_hop_are_not_passed_to_the_client() -> None:
    raw = [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked"), ("Content-Length", "5"),
           ("Connection", "close"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    assert client_response_headers(raw) == [("Content-Type", "text/html"), ("Set-Cookie", "a=1"),
                                            ("Set-Cookie", "b=2")]


def test_repeated_fields_keep_order_values_and_first_spelling() -> None:
    raw = [("Host", "a"), ("X-A", "1"), ("x-a", "2"), ("X-B", "3"), ("X-a", "4")]
    out = upstream_request_headers(raw, client_ip="10.0.0.1", scheme="http")
    assert out[:5] == [("Host", "a"), ("X-A", "1"), ("X-A", "2"), ("X-B", "3"), ("X-A", "4")]


def test_origin_form_of_each_request_target_form() -> None:
    from services.waf.app import origin_form

    assert origin_form("/a/b?c=1") == "/a/b?c=1"
    assert origin_form("/a#frag") is None
    assert origin_form("http://h.example/p?q=1") == "/p?q=1"
    assert origin_form("https://h.example:8443") == "/"
    assert origin_form("http://h.example?q=1") == "/?q=1"
    assert origin_form("h.example:443") is None
    assert origin_form("*") is None
