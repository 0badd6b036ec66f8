"""The agent runtime on the real default model through the real gateway, with the built-in
filesystem MCP server over stdio: writes inside its root only, limits, approvals."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import openai
import pytest

from inferstack.agents.db import AgentDatabase
from inferstack.agents.mcp import MCPConnection, parse_spec
from inferstack.agents.runtime import Agent, FinalEvent, Limits, SessionStore, ToolResultEvent
from support.gateway import Gateway, start_gateway, stop_gateway, virtual_key
from support.servers import RunningServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gateway(
    chat_server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    # A busy 2-core machine can take minutes per step: the router waits as long as the client.
    gw = start_gateway(
        tmp_path_factory.mktemp("gw"), chat_server.url, chat_server.model, None, timeout_s=600
    )
    yield gw
    stop_gateway(gw)


@pytest.fixture
def client(gateway: Gateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=virtual_key(gateway), timeout=600, max_retries=0
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SessionStore]:
    db = AgentDatabase(f"sqlite+aiosqlite:///{tmp_path / 'agents.db'}")
    await db.create()
    yield SessionStore(db)
    await db.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "sandbox"
    root.mkdir()
    (root / "notes.txt").write_text("buy milk\n")
    return root


async def approve(_call: object) -> bool:
    return True


async def test_agent_writes_a_file_through_mcp_and_stays_in_its_root(
    client: openai.AsyncOpenAI, store: SessionStore, root: Path, tmp_path: Path
) -> None:
    before_outside = sorted(p.name for p in tmp_path.iterdir())
    async with MCPConnection(parse_spec(f"builtin:filesystem:{root}")) as fs:
        agent = Agent(
            client,
            "chat",
            store,
            tools=await fs.tools(),
            first_tool_choice="write_file",
            limits=Limits(max_steps=2, step_max_tokens=96),
            approver=approve,
            seed=7,
        )
        final = await agent.run("Write the word hello into the file greeting.txt.")
        escape = await agent.run(f"Write hello into the file {tmp_path / 'escaped.txt'}.")
    write = final.tool_results[0]
    assert write.name == "write_file" and not write.is_error, write.output
    written = [p for p in root.rglob("*") if p.is_file() and p.name != "notes.txt"]
    assert written, "the agent's write landed in the sandbox"
    first = escape.tool_results[0]
    assert first.name == "write_file"
    if first.is_error:  # refused as outside the root, or (a path the model cut) not there
        assert "outside" in first.output or "No such file" in first.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before_outside
    assert final.steps <= 2 and final.reason in ("stop", "max_steps")


async def test_agent_stops_at_its_step_limit(
    client: openai.AsyncOpenAI, store: SessionStore, root: Path
) -> None:
    async with MCPConnection(parse_spec(f"builtin:filesystem:{root}")) as fs:
        agent = Agent(
            client,
            "chat",
            store,
            tools=await fs.tools(),
            tool_choice="required",
            limits=Limits(max_steps=3, step_max_tokens=64),
            approver=approve,
        )
        final = await agent.run("Look at the files.")
    assert (final.reason, final.steps) == ("max_steps", 3)
    assert len({r.step for r in final.tool_results}) == 3


async def test_pause_for_approval_and_resume_without_repeating(
    client: openai.AsyncOpenAI, store: SessionStore, root: Path
) -> None:
    async with MCPConnection(parse_spec(f"builtin:filesystem:{root}")) as fs:
        tools = await fs.tools()
        agent = Agent(
            client,
            "chat",
            store,
            tools=tools,
            first_tool_choice="write_file",
            limits=Limits(max_steps=2, step_max_tokens=96),
        )
        paused = await agent.run("Save the text done into the file status.txt.")
        assert paused.reason == "paused" and [c.name for c in paused.pending] == ["write_file"]
        assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]  # nothing ran yet
        events = [e async for e in agent.resume(paused.run_id, {paused.pending[0].id: True})]
    final = events[-1]
    assert isinstance(final, FinalEvent) and final.reason in ("stop", "max_steps", "paused")
    writes = [e for e in events if isinstance(e, ToolResultEvent) and e.name == "write_file"]
    assert writes[0].call_id == paused.pending[0].id and not writes[0].is_error
    history = await store.history(paused.session_id)
    answered = [m["tool_call_id"] for m in history if m["role"] == "tool"]
    assert len(answered) == len(set(answered))  # no call answered (run) twice
    assert paused.pending[0].id in answered


async def test_same_task_same_calls_at_temperature_zero(
    client: openai.AsyncOpenAI, store: SessionStore, root: Path
) -> None:
    async with MCPConnection(parse_spec(f"builtin:filesystem:{root}")) as fs:
        tools = [t for t in await fs.tools() if t.name != "write_file"]
        agent = Agent(
            client,
            "chat",
            store,
            tools=tools,
            tool_choice="required",
            seed=3,
            limits=Limits(max_steps=1, step_max_tokens=64),
        )
        runs = [await agent.run("What is in notes.txt?") for _ in range(2)]
    calls = [[(r.name, r.arguments) for r in run.tool_results] for run in runs]
    assert calls[0] == calls[1] and calls[0]
