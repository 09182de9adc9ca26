"""services.waf.regress: reading responses off real sockets, the match log, and the verdicts."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.waf.regress.client import Response, SendError, send
from services.waf.regress.judge import judge
from services.waf.regress.matchlog import MatchEntry, MatchLog
from services.waf.regress.model import Expect


@pytest.fixture
def one_shot_server() -> Iterator[tuple[int, list[bytes], list[bytes]]]:
    """A TCP server that answers each connection with the next canned bytes, then closes it."""
    replies: list[bytes] = []
    received: list[bytes] = []
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.1)  # accept() wakes up to notice the end of the test
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    received.append(conn.recv(65536))
                except OSError:
                    received.append(b"")
                if replies:
                    conn.sendall(replies.pop(0))

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], replies, received
    stop.set()
    srv.close()
    t.join(5)


def test_reads_content_length_chunked_and_any_version(one_shot_server) -> None:
    port, replies, received = one_shot_server
    replies += [
        b"HTTP/1.1 403 Forbidden\r\nX-Request-Id: abc\r\nContent-Length: 7\r\n\r\nblocked",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        b"HTTP/2.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    ]
    r = send("127.0.0.1", port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (r.status, r.header("x-request-id"), r.body) == (403, "abc", b"blocked")
    assert received[0] == b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    assert send("127.0.0.1", port, b"GET / HTTP/1.1\r\n\r\n").body == b"abcde"
    assert send("127.0.0.1", port, b"GET / HTTP/2.0\r\n\r\n").status == 400


def test_closed_connection_is_an_error(one_shot_server) -> None:
    port, replies, _ = one_shot_server
    replies.append(b"")  # close without a byte
    with pytest.raises(SendError, match="connection closed before the response was complete"):
        send("127.0.0.1", port, b"GET / HTTP/1.1\r\n\r\n")
    replies.append(b"SSH-2.0-OpenSSH\r\n")
    with pytest.raises(SendError, match="not an HTTP status line"):
        send("127.0.0.1", port, b"GET / HTTP/1.1\r\n\r\n")


def test_refused_connection_is_an_error() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(SendError, match=f"connect to 127.0.0.1:{port} failed"):
        send("127.0.0.1", port, b"GET / HTTP/1.1\r\n\r\n", timeout=2)


def test_match_log_finds_lines_written_in_pieces(tmp_path: Path) -> None:
    path = tmp_path / "match.log"
    log = MatchLog(path)
    assert log.wait_for("nope", timeout=0.05) is None  # no file yet
    line = json.dumps({"request_id": "r1", "status": 200, "blocked": False, "rule_ids": [920350, 949110],
                       "anomaly_score": 5})
    with open(path, "a") as f:
        f.write(line[:20])
        f.flush()
        assert log.wait_for("r1", timeout=0.05) is None  # half a line is not an entry
        f.write(line[20:] + "\n" + json.dumps({"request_id": "r2", "rule_ids": [1], "logged_rule_ids": []}) + "\n")
    entry = log.wait_for("r1", timeout=1)
    assert entry is not None and entry.rule_ids == (920350, 949110) and entry.anomaly_score == 5
    assert log.wait_for("r2", timeout=1).rule_ids == ()  # only rules that log, as go-ftw sees them


def _resp(status: int, body: bytes = b"") -> Response:
    return Response(status=status, headers=(), body=body, raw_head=f"HTTP/1.1 {status} X\r\n")


ENTRY = MatchEntry("r1", 200, False, (920350, 949110), 5)


@pytest.mark.parametrize(("expect", "response", "error", "entry", "reasons"), [
    (Expect(log_contains='id "920350"'), _resp(200), None, ENTRY, []),
    (Expect(log_contains='id "942100"'), _resp(200), None, ENTRY, ["log does not contain 'id \"942100\"'"]),
    (Expect(no_log_contains='id "920350"'), _resp(200), None, ENTRY, ["log contains 'id \"920350\"'"]),
    (Expect(log_contains="920350"), _resp(200), None, ENTRY, []),
    (Expect(status=(403, 400)), _resp(400), None, None, []),
    (Expect(status=(403,)), _resp(200), None, ENTRY, ["status 200, expected 403"]),
    # rejected before the engine: no log, so no_log_contains holds and log_contains does not
    (Expect(no_log_contains='id "920100"'), _resp(400), None, None, []),
    (Expect(log_contains='id "920100"'), _resp(400), None, None, ["rejected before the engine"]),
    (Expect(expect_error=True), None, "closed", None, []),
    (Expect(expect_error=True), _resp(400), None, None, ["expected an error"]),
    (Expect(log_contains='id "1"'), None, "reset", None, ["no response: reset"]),
    (Expect(expect_ids=(920350,), no_expect_ids=(949110,)), _resp(200), None, ENTRY, ["rule 949110 matched"]),
    (Expect(response_contains="Request blocked"), _resp(403, b"403 Request blocked\n"), None, ENTRY, []),
    (Expect(response_contains="^HTTP/1.1 200"), _resp(403), None, ENTRY, ["response does not contain"]),
    (Expect(status=(200,), log_contains='id "942100"'), _resp(403), None, ENTRY, ["status 403", "942100"]),
])
def test_verdicts(expect: Expect, response: Response | None, error: str | None, entry: MatchEntry | None,
                  reasons: list[str]) -> None:
    v = judge(expect, response, error, entry)
    assert v.passed == (not reasons)
    assert len(v.reasons) == len(reasons)
    for got, want in zip(v.reasons, reasons):
        assert want in got
