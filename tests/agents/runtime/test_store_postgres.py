"""Sessions and the durable approval pause on a real PostgreSQL (the chart's database)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inferstack.agents.db import AgentDatabase
from inferstack.agents.runtime import Agent, FinalEvent, SessionStore
from inferstack.agents.tools import Tool
from support.fake_chat import FakeModel, call, text
from support.services import postgres_cluster


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_cluster() as url:
        yield url


async def test_pause_and_resume_on_postgresql(pg_url: str) -> None:
    ran: list[str] = []

    def drop(table: str) -> str:
        """Drop a table."""
        ran.append(table)
        return f"dropped {table}"

    tools = [Tool.from_function(drop, destructive=True)]
    model = FakeModel(call("drop", table="t"), text("Dropped."))
    db = AgentDatabase(pg_url)
    assert db.dialect == "postgresql"
    await db.create()
    await db.create()  # idempotent on restart
    store = SessionStore(db)
    agent = Agent(model.client(), "m", store, tools=tools, system="sys")
    paused = await agent.run("drop t", session_id="pg-session")
    assert paused.reason == "paused" and ran == []
    await db.close()

    db = AgentDatabase(pg_url)
    store = SessionStore(db)
    agent = Agent(model.client(), "m", store, tools=tools)
    final = [e async for e in agent.resume(paused.run_id, {paused.pending[0].id: True})][-1]
    assert isinstance(final, FinalEvent) and final.answer == "Dropped." and ran == ["t"]
    history = await store.history("pg-session")
    assert [m["role"] for m in history] == ["system", "user", "assistant", "tool", "assistant"]
    assert await store.claim_paused(paused.run_id) is None
    assert await db.ping()
    await db.close()
