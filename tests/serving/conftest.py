"""Fixtures of the serving unit tests: the app on an in-memory engine double."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from inferstack.serving.app import build_app
from inferstack.serving.settings import ServerSettings
from support.fake_engine import FakeEngine


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def settings() -> ServerSettings:
    return ServerSettings(max_body_bytes=4096, max_waiting=1)


@pytest.fixture
async def client(engine: FakeEngine, settings: ServerSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(settings, engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
