"""Both matcher backends run through the same tests (the aiohttp/httpx pattern)."""

from __future__ import annotations

import pytest

BACKENDS = ["hyperscan", "python"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param
