"""shared/runtime/clamd.py: the clamd.conf we write, and a clamd that fails to start is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.runtime.clamd import ClamdLimits, LocalClamd, clamd_ping, write_clamd_conf
from shared.runtime.ports import free_port
from tests.plugins.clamd import ClamdServer


def test_conf_is_tcp_loopback_only_with_limits(tmp_path: Path) -> None:
    conf = write_clamd_conf(tmp_path, 3999, tmp_path / "db", ClamdLimits(max_recursion=7, stream_max_length="5M"))
    lines = conf.read_text().splitlines()
    assert "TCPSocket 3999" in lines and "TCPAddr 127.0.0.1" in lines and "Foreground yes" in lines
    assert f"DatabaseDirectory {(tmp_path / 'db').resolve()}" in lines
    assert "MaxRecursion 7" in lines and "StreamMaxLength 5M" in lines
    assert not any(line.startswith("LocalSocket") for line in lines)


def test_session_clamd_answers_ping(clamd_server: ClamdServer) -> None:
    assert clamd_ping(clamd_server.host, clamd_server.port)
    assert not clamd_ping("127.0.0.1", free_port())


def test_empty_database_fails_fast_with_clamd_message(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    clamd = LocalClamd(free_port(), tmp_path / "db", tmp_path / "data")
    with pytest.raises(RuntimeError, match=r"clamd exited with code \d+ while starting"):
        clamd.start(timeout=30)
