"""Fixture: one real clamd (Debian's clamav-daemon) for the session, serving the core AV pack.

``clamd_server``: a :class:`ClamdServer` whose ``database_dir`` holds the compiled core pack and whose
``port`` is clamd's TCP port on 127.0.0.1. Add ``"tests.plugins.clamd"`` to ``pytest_plugins``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.av.pack import DEFAULT_PACK_DIR, CompiledPacks, compile_packs
from shared.runtime.clamd import ClamdLimits, LocalClamd
from shared.runtime.ports import free_port


@dataclass(frozen=True)
class ClamdServer:
    host: str
    port: int
    database_dir: Path
    packs: CompiledPacks
    limits: ClamdLimits


@pytest.fixture(scope="session")
def clamd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamdServer]:
    if shutil.which("clamd") is None and not Path("/usr/sbin/clamd").exists():
        pytest.fail("clamd is not installed: apt-get install clamav-daemon (Makefile APT_PACKAGES)")
    root = tmp_path_factory.mktemp("clamd")
    packs = compile_packs([DEFAULT_PACK_DIR], root / "db", verify=True)
    limits = ClamdLimits(stream_max_length="64M", max_file_size="64M", max_scan_size="128M")
    instance = LocalClamd(free_port(), root / "db", root / "data", limits)
    instance.start()
    try:
        yield ClamdServer(instance.host, instance.port, root / "db", packs, limits)
    finally:
        instance.stop()
