"""The agent loop: chat completions with tools until the model answers or a limit is reached.

Each step is one model call; the tool calls of a step run in parallel, and every message (the
model's turn, each tool result as it arrives) is recorded in the session store before the next
step. Destructive tools wait for an approval: the run pauses durably (status ``paused`` with the
waiting calls) and :meth:`Agent.resume` continues it, running only the calls that have no
recorded result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import openai
from opentelemetry import trace

from inferstack.agents.metrics import AgentMetrics, ToolOutcome
from inferstack.agents.runtime.events import (
    AgentEvent,
    CallRecord,
    FinalEvent,
    ModelTurnEvent,
    StopReason,
    ToolResultEvent,
)
from inferstack.agents.runtime.executor import execute_call
from inferstack.agents.runtime.limits import Limits
from inferstack.agents.runtime.store import RunState, SessionStore
from inferstack.agents.tools import Tool, ToolOutput
from inferstack.agents.tracing import traced_completion
from inferstack.errors import InferstackError, InvalidRequestError, NotFoundError, UpstreamError
from inferstack.telemetry.genai import agent_span, tool_span
from inferstack.telemetry.semconv import Attr

__all__ = ["Agent", "Approver"]

logger = logging.getLogger(__name__)

Approver = Callable[[CallRecord], Awaitable[bool]]
"""Asked inline for each destructive call; without one, the run pauses instead."""

DENIED = "the user did not approve this call; it was not run"


def _choice(value: str | None) -> Any:
    """``auto``/``required``/``none``, or a tool name meaning that tool."""
    if value is None or value in ("auto", "required", "none"):
        return value
    return {"type": "function", "function": {"name": value}}


class Agent:
    """One configured agent; reusable across runs and sessions (it holds no run state)."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        store: SessionStore,
        *,
        tools: Sequence[Tool] = (),
        system: str | None = None,
        limits: Limits | None = None,
        tool_choice: str = "auto",
        first_tool_choice: str | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        parallel_tool_calls: bool = True,
        approver: Approver | None = None,
        tracer: trace.Tracer | None = None,
        name: str = "agent",
        metrics: AgentMetrics | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.store = store
        self.tools: dict[str, Tool] = {t.name: t for t in tools}
        self.system = system
        self.limits = limits or Limits()
        self.tool_choice = tool_choice
        self.first_tool_choice = first_tool_choice
        self.temperature = temperature
        self.seed = seed
        self.parallel_tool_calls = parallel_tool_calls
        self.approver = approver
        self.tracer = tracer or trace.NoOpTracer()
        self.name = name
        self.metrics = metrics

    async def run(self, task: str, *, session_id: str | None = None) -> FinalEvent:
        """Run to the end and return the final event."""
        return await _last(self.stream(task, session_id=session_id))

    async def stream(
        self, task: str, *, session_id: str | None = None
    ) -> AsyncIterator[AgentEvent]:
        """Run ``task`` in a session (its earlier messages are the memory), reporting each step."""
        if not task.strip():
            raise InvalidRequestError("the task is empty", param="task")
        run = await self.store.start_run(session_id)
        messages = await self.store.history(run.session_id)
        if not messages and self.system:
            await self._record(run, messages, {"role": "system", "content": self.system})
        await self._record(run, messages, {"role": "user", "content": task})
        with agent_span(self.tracer, self.name) as span:
            span.set_attribute("gen_ai.conversation.id", run.session_id)
            loop = self._loop(run, messages, deadline=self._deadline())
            async for event in self._observed(run, loop):
                if isinstance(event, FinalEvent):
                    span.set_attribute("inferstack.agent.stop_reason", event.reason)
                yield event

    async def resume(self, run_id: str, approvals: Mapping[str, bool]) -> AsyncIterator[AgentEvent]:
        """Continue a paused run: approved calls run, denied ones are answered as denied,
        and any call whose result is already recorded is skipped."""
        run = await self.store.claim_paused(run_id)
        if run is None:
            known = await self.store.get_run(run_id)
            if known is None:
                raise NotFoundError(f"no run {run_id!r}", param="run_id")
            raise InvalidRequestError(
                f"run {run_id!r} is {known.status}, not paused", param="run_id", code="not_paused"
            )
        messages = await self.store.history(run.session_id)
        done = {m.get("tool_call_id") for m in messages if m.get("role") == "tool"}
        pending = [CallRecord.model_validate(p) for p in run.pending]
        deadline = self._deadline()
        results: list[ToolResultEvent] = []
        todo = [c for c in pending if c.id not in done]
        run.pending = []
        async for result in self._execute(run, messages, run.steps, todo, approvals, deadline):
            results.append(result)
            yield result
        await self.store.save(run)
        loop = self._loop(run, messages, deadline=deadline, carried=results)
        async for event in self._observed(run, loop):
            yield event

    async def _observed(
        self, run: RunState, events: AsyncIterator[AgentEvent]
    ) -> AsyncIterator[AgentEvent]:
        """``events``, counting how the run ended (stop reason, steps) in the metrics."""
        try:
            async for event in events:
                if isinstance(event, FinalEvent) and self.metrics is not None:
                    self.metrics.run_ended(self.name, event.reason, event.steps)
                yield event
        except InferstackError:
            if self.metrics is not None:
                self.metrics.run_ended(self.name, "error", run.steps)
            raise

    def _deadline(self) -> float:
        return time.monotonic() + self.limits.max_seconds

    async def _loop(
        self,
        run: RunState,
        messages: list[dict[str, Any]],
        *,
        deadline: float,
        carried: list[ToolResultEvent] | None = None,
    ) -> AsyncIterator[AgentEvent]:
        results = list(carried or [])
        answer = ""
        first = run.steps == 0
        reason: StopReason = "max_steps"
        while run.steps < self.limits.max_steps:
            if run.tokens >= self.limits.max_tokens:
                reason = "max_tokens"
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                reason = "max_time"
                break
            try:
                turn = await self._model_turn(run, messages, first=first, timeout=remaining)
            except TimeoutError:
                reason = "max_time"
                break
            first = False
            yield turn
            answer = turn.content or answer
            if not turn.tool_calls:
                reason = "stop"
                break
            waiting = [c for c in turn.tool_calls if self._needs_pause(c)]
            runnable = [c for c in turn.tool_calls if not self._needs_pause(c)]
            async for event in self._execute(run, messages, run.steps, runnable, {}, deadline):
                results.append(event)
                yield event
            if waiting:
                run.status, run.pending = "paused", [c.model_dump() for c in waiting]
                await self.store.save(run)
                yield self._final(run, answer, "paused", results, waiting)
                return
            if time.monotonic() >= deadline:
                reason = "max_time"
                break
        run.status = "done"
        await self.store.save(run)
        yield self._final(run, answer, reason, results, [])

    def _needs_pause(self, call: CallRecord) -> bool:
        tool = self.tools.get(call.name)
        return tool is not None and tool.destructive and self.approver is None

    async def _model_turn(
        self, run: RunState, messages: list[dict[str, Any]], *, first: bool, timeout: float
    ) -> ModelTurnEvent:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": min(self.limits.step_max_tokens, self.limits.max_tokens - run.tokens),
        }
        if self.seed is not None:
            kwargs["seed"] = self.seed
        if self.tools:
            choice = self.first_tool_choice if first and self.first_tool_choice else None
            kwargs["tools"] = [t.openai_schema() for t in self.tools.values()]
            kwargs["tool_choice"] = _choice(choice or self.tool_choice)
            kwargs["parallel_tool_calls"] = self.parallel_tool_calls
        try:
            async with asyncio.timeout(timeout):
                response = await traced_completion(self.client, self.tracer, **kwargs)
        except openai.APIError as exc:
            run.status, run.error = "failed", str(exc)
            await self.store.save(run)
            raise UpstreamError(f"the model call failed: {exc}") from exc
        run.steps += 1
        if self.metrics is not None:
            self.metrics.step(self.name)
        run.tokens += response.usage.total_tokens if response.usage else 0
        await self.store.save(run)
        choice_ = response.choices[0]
        message = choice_.message
        calls = [
            CallRecord(id=c.id, name=c.function.name, arguments=c.function.arguments or "{}")
            for c in message.tool_calls or []
            if c.type == "function"
        ]
        recorded: dict[str, Any] = {"role": "assistant", "content": message.content}
        if calls:
            recorded["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in calls
            ]
        await self._record(run, messages, recorded)
        return ModelTurnEvent(
            run_id=run.id,
            step=run.steps,
            content=message.content,
            tool_calls=calls,
            finish_reason=choice_.finish_reason,
            tokens=response.usage.total_tokens if response.usage else 0,
        )

    async def _execute(
        self,
        run: RunState,
        messages: list[dict[str, Any]],
        step: int,
        calls: Sequence[CallRecord],
        approvals: Mapping[str, bool],
        deadline: float,
    ) -> AsyncIterator[ToolResultEvent]:
        """Run ``calls`` in parallel; each result is recorded as soon as it arrives."""
        timeout = max(0.0, min(self.limits.tool_timeout, deadline - time.monotonic()))
        lock = asyncio.Lock()
        queue: asyncio.Queue[ToolResultEvent] = asyncio.Queue()

        async def one(call: CallRecord) -> None:
            with tool_span(self.tracer, call.name, call_id=call.id) as span:
                started = time.monotonic()
                output, outcome = await self._call_or_deny(call, approvals, timeout)
                if output.is_error:
                    span.set_attribute(Attr.ERROR_TYPE, "tool_error")
            if self.metrics is not None:
                took = None if outcome == "denied" else time.monotonic() - started
                self.metrics.tool_call(self.name, call.name, call.name in self.tools, outcome, took)
            async with lock:
                await self._record(
                    run,
                    messages,
                    {"role": "tool", "tool_call_id": call.id, "content": output.text},
                )
            await queue.put(
                ToolResultEvent(
                    run_id=run.id,
                    step=step,
                    call_id=call.id,
                    name=call.name,
                    arguments=call.arguments,
                    output=output.text,
                    data=output.data,
                    is_error=output.is_error,
                )
            )

        tasks = [asyncio.create_task(one(c)) for c in calls]
        try:
            for _ in tasks:
                yield await queue.get()
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks)

    async def _call_or_deny(
        self, call: CallRecord, approvals: Mapping[str, bool], timeout: float
    ) -> tuple[ToolOutput, ToolOutcome]:
        tool = self.tools.get(call.name)
        if tool is not None and tool.destructive:
            approved = approvals.get(call.id)
            if approved is None and self.approver is not None:
                approved = await self.approver(call)
            if not approved:
                return ToolOutput(DENIED, is_error=True), "denied"
        output = await execute_call(self.tools, call, timeout)
        return output, "error" if output.is_error else "ok"

    async def _record(
        self, run: RunState, messages: list[dict[str, Any]], message: dict[str, Any]
    ) -> None:
        await self.store.append(run, message)
        messages.append(message)

    @staticmethod
    def _final(
        run: RunState,
        answer: str,
        reason: StopReason,
        results: list[ToolResultEvent],
        waiting: list[CallRecord],
    ) -> FinalEvent:
        return FinalEvent(
            run_id=run.id,
            session_id=run.session_id,
            answer=answer,
            reason=reason,
            steps=run.steps,
            tokens=run.tokens,
            tool_results=results,
            pending=waiting,
        )


async def _last(events: AsyncIterator[AgentEvent]) -> FinalEvent:
    final: FinalEvent | None = None
    async for event in events:
        if isinstance(event, FinalEvent):
            final = event
    assert final is not None, "every run ends with a final event"
    return final
