"""Console fixtures: the gateway app with the console mounted, and a client of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.console import console_app


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Any]:
    gateway_app = console_app(tmp_path)
    async with gateway_app.router.lifespan_context(gateway_app):
        yield gateway_app


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http
