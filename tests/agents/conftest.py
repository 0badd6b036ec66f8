from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inferstack.agents.db import AgentDatabase
from inferstack.agents.runtime import SessionStore


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'agents.db'}"


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SessionStore]:
    db = AgentDatabase(db_url)
    await db.create()
    yield SessionStore(db)
    await db.close()
