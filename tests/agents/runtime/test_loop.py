"""The agent loop against a strict scripted model: tools, errors, limits, sessions, approvals."""

from __future__ import annotations

import asyncio

import pytest

from inferstack.agents.db import AgentDatabase
from inferstack.agents.runtime import Agent, FinalEvent, Limits, SessionStore, ToolResultEvent
from inferstack.agents.tools import Tool
from inferstack.errors import InvalidRequestError, NotFoundError
from support.fake_chat import FakeModel, Reply, call, calls, text


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def agent(model: FakeModel, store: SessionStore, *tools: Tool, **kw) -> Agent:
    return Agent(model.client(), "m", store, tools=list(tools) or [Tool.from_function(add)], **kw)


async def test_tool_then_answer_is_recorded(store: SessionStore) -> None:
    model = FakeModel(call("add", a=2, b=3), text("5"))
    final = await agent(model, store, system="be brief").run("2+3?")
    assert (final.reason, final.answer, final.steps) == ("stop", "5", 2)
    assert [r.output for r in final.tool_results] == ["5"]
    history = await store.history(final.session_id)
    assert [m["role"] for m in history] == ["system", "user", "assistant", "tool", "assistant"]
    assert history[3]["tool_call_id"] == history[2]["tool_calls"][0]["id"]
    assert model.requests[1]["messages"][-1] == history[3]
    run = await store.get_run(final.run_id)
    assert run is not None and run.status == "done" and run.tokens == final.tokens > 0


async def test_session_memory_carries_to_the_next_run(store: SessionStore) -> None:
    model = FakeModel(text("hi"), text("again"))
    a = agent(model, store, system="sys")
    first = await a.run("hello", session_id="s1")
    second = await a.run("and now?", session_id="s1")
    assert first.session_id == second.session_id == "s1"
    sent = model.requests[1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2]["content"] == "hi"


async def test_tool_errors_go_back_to_the_model(store: SessionStore) -> None:
    def explode(x: str) -> str:
        raise OSError("disk on fire")

    bad_json = Reply(calls=[("add", {})], raw_arguments='{"a": 1,')
    model = FakeModel(
        calls(("explode", {"x": "1"}), ("nope", {}), ("add", {"a": "x", "b": 1})),
        bad_json,
        text("sorry"),
    )
    a = agent(model, store, Tool.from_function(explode), Tool.from_function(add))
    final = await a.run("go")
    assert final.reason == "stop" and final.answer == "sorry"
    by_name = {r.name: r for r in final.tool_results if r.step == 1}
    assert all(r.is_error for r in final.tool_results)
    assert "disk on fire" in by_name["explode"].output
    assert "unknown tool 'nope'" in by_name["nope"].output
    assert by_name["add"].output.startswith("invalid arguments: a:")
    assert "not valid JSON" in final.tool_results[-1].output


async def test_parallel_calls_run_together(store: SessionStore) -> None:
    both = asyncio.Barrier(2)

    async def meet(name: str) -> str:
        # Each call waits for the other: only concurrent execution gets past the barrier.
        async with asyncio.timeout(5):
            await both.wait()
        return name

    model = FakeModel(calls(("meet", {"name": "a"}), ("meet", {"name": "b"})), text("met"))
    final = await agent(model, store, Tool.from_function(meet)).run("meet")
    assert sorted(r.output for r in final.tool_results) == ["a", "b"]
    assert not any(r.is_error for r in final.tool_results)


async def test_step_limit_stops_the_run(store: SessionStore) -> None:
    model = FakeModel(call("add", a=1, b=1), repeat_last=True)
    final = await agent(model, store, limits=Limits(max_steps=3), tool_choice="required").run(
        "loop"
    )
    assert (final.reason, final.steps, len(model.requests)) == ("max_steps", 3, 3)
    assert all(r["tool_choice"] == "required" for r in model.requests)


async def test_token_limit_stops_the_run(store: SessionStore) -> None:
    model = FakeModel(call("add", a=1, b=1), repeat_last=True)
    final = await agent(model, store, limits=Limits(max_tokens=25)).run("loop")
    assert final.reason == "max_tokens"
    assert final.tokens >= 25 and final.steps < 8
    assert all(r["max_tokens"] <= 25 for r in model.requests)


async def test_wall_time_bounds_a_hanging_tool(store: SessionStore) -> None:
    async def hang() -> str:
        await asyncio.Event().wait()
        return "never"

    model = FakeModel(call("hang"), text("unused"))
    limits = Limits(max_seconds=0.2, tool_timeout=60)
    final = await agent(model, store, Tool.from_function(hang), limits=limits).run("wait")
    assert final.reason == "max_time"
    assert final.tool_results[0].is_error and "did not answer" in final.tool_results[0].output


async def test_first_tool_choice_names_a_tool(store: SessionStore) -> None:
    model = FakeModel(call("add", a=1, b=2), text("3"))
    await agent(model, store, first_tool_choice="add").run("sum")
    assert model.requests[0]["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    assert model.requests[1]["tool_choice"] == "auto"


class Counter:
    def __init__(self) -> None:
        self.runs: dict[str, int] = {}

    def tools(self) -> list[Tool]:
        def delete_file(path: str) -> str:
            """Delete a file."""
            self.runs["delete"] = self.runs.get("delete", 0) + 1
            return f"deleted {path}"

        def look(path: str) -> str:
            """Look at a file."""
            self.runs["look"] = self.runs.get("look", 0) + 1
            return f"saw {path}"

        return [Tool.from_function(delete_file, destructive=True), Tool.from_function(look)]


async def test_approval_pauses_durably_and_resumes_without_repeats(db_url: str) -> None:
    counter = Counter()
    model = FakeModel(calls(("look", {"path": "a"}), ("delete_file", {"path": "a"})), text("done"))
    db = AgentDatabase(db_url)
    await db.create()
    paused = await agent(model, SessionStore(db), *counter.tools()).run("clean up")
    await db.close()
    assert paused.reason == "paused"
    assert [p.name for p in paused.pending] == ["delete_file"]
    assert counter.runs == {"look": 1}

    # A fresh process: new database handle, new agent, same file.
    db = AgentDatabase(db_url)
    store = SessionStore(db)
    run = await store.get_run(paused.run_id)
    assert run is not None and run.status == "paused"
    resumed = agent(model, store, *counter.tools())
    events = [e async for e in resumed.resume(paused.run_id, {paused.pending[0].id: True})]
    final = events[-1]
    assert isinstance(final, FinalEvent) and final.reason == "stop" and final.answer == "done"
    assert counter.runs == {"look": 1, "delete": 1}
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    assert [r.output for r in results] == ["deleted a"]
    history = await store.history(paused.session_id)
    assert sum(1 for m in history if m["role"] == "tool") == 2
    with pytest.raises(InvalidRequestError, match="not paused"):
        [e async for e in resumed.resume(paused.run_id, {paused.pending[0].id: True})]
    with pytest.raises(NotFoundError):
        [e async for e in resumed.resume("run_missing", {})]
    assert counter.runs == {"look": 1, "delete": 1}
    await db.close()


async def test_denied_call_is_answered_not_run(store: SessionStore) -> None:
    counter = Counter()
    model = FakeModel(call("delete_file", path="x"), text("ok, kept it"))
    a = agent(model, store, *counter.tools())
    paused = await a.run("delete x")
    final = [e async for e in a.resume(paused.run_id, {})][-1]
    assert isinstance(final, FinalEvent) and final.answer == "ok, kept it"
    assert counter.runs == {}
    assert "not approve" in model.requests[-1]["messages"][-1]["content"]


async def test_inline_approver(store: SessionStore) -> None:
    counter = Counter()
    asked: list[str] = []

    async def approve(c) -> bool:
        asked.append(c.name)
        return True

    model = FakeModel(call("delete_file", path="x"), text("gone"))
    final = await agent(model, store, *counter.tools(), approver=approve).run("delete x")
    assert final.reason == "stop" and asked == ["delete_file"] and counter.runs == {"delete": 1}
