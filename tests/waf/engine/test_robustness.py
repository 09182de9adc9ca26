"""Arbitrary input never makes a transformation or a transaction raise (the request path must
survive whatever a client sends)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.waf.transformations import TRANSFORMATIONS
from tests.waf.engine.helpers import ruleset

latin1 = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=200)

RULES = ruleset(
    'SecRule ARGS|ARGS_NAMES|REQUEST_COOKIES|REQUEST_HEADERS|REQUEST_BODY "@rx (?i)<script" '
    '"id:1,phase:2,pass,capture,t:none,t:urlDecodeUni,t:htmlEntityDecode,t:compressWhitespace,t:lowercase"\n'
    'SecRule ARGS "@detectSQLi" "id:2,phase:2,pass,t:base64Decode,t:hexDecode"\n'
    'SecRule ARGS "@detectXSS" "id:3,phase:2,pass,multiMatch,t:urlDecode,t:removeNulls"\n'
    'SecRule &ARGS "@gt 3" "id:4,phase:2,pass"\n'
)


@given(latin1)
@settings(max_examples=150, deadline=None)
def test_transformations_are_total(value: str) -> None:
    for definition in TRANSFORMATIONS.values():
        out = definition.func(value)
        assert isinstance(out, str)
        assert all(ord(c) < 256 for c in out), definition.name


@given(
    uri=st.text(max_size=120).map(lambda s: "/" + s),
    headers=st.lists(st.tuples(st.text(min_size=1, max_size=20), st.text(max_size=60)), max_size=5),
    body=st.binary(max_size=300),
    content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"]),
)
@settings(max_examples=150, deadline=None)
def test_transactions_never_raise(uri: str, headers: list[tuple[str, str]], body: bytes, content_type: str) -> None:
    tx = RULES.new_transaction(client_ip="192.0.2.1", client_port=1, server_ip="127.0.0.1", server_port=80, unique_id="h")
    tx.process_request_line("POST", uri, "HTTP/1.1")
    tx.process_request_headers([*headers, ("Content-Type", content_type)])
    tx.process_request_body(body)
    tx.process_response_headers(200, [])
    tx.process_logging()
    assert tx.errors == [] or all(e.startswith("request body:") for e in tx.errors)
