"""docker-compose.yml is valid (docker-compose validates it without an engine)."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_file_is_valid() -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is not installed; `make test` installs it (Debian package docker-compose)")
    result = subprocess.run([exe, "config", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_compose_runs_every_service_with_a_healthcheck() -> None:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = doc["services"]
    for name in ("kafka", "opensearch", "clamav", "av", "indexer", "api", "waf", "upstream"):
        assert name in services, name
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
