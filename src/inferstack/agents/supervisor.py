"""The supervisor: a knowledge check, retrieval with a relevance check, then the tool agent.

One object serves every request (it holds clients, not request state). Each decision is a
small grammar-constrained JSON answer from the model, so even a tiny model routes with valid
output; the route taken is part of every reply (``route``) and of the trace (one span per
step, the route on the ``invoke_agent supervisor`` span).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Literal

import openai
from opentelemetry import trace
from pydantic import BaseModel, Field

from inferstack.agents.metrics import AgentMetrics
from inferstack.agents.runtime import Agent, CallRecord, FinalEvent, ToolResultEvent
from inferstack.agents.tracing import traced_completion
from inferstack.errors import UpstreamError
from inferstack.rag import Retriever
from inferstack.telemetry.genai import agent_span, retrieval_span

__all__ = ["Citation", "QueryReply", "RouteEvent", "Supervisor", "SupervisorMode"]

SupervisorMode = Literal["auto", "knowledge", "tools"]
ROUTE_ATTRIBUTE = "inferstack.agent.route"


class Citation(BaseModel):
    index: int
    source: str
    location: str
    chunk_id: str
    score: float
    text: str


class RouteEvent(BaseModel):
    type: Literal["route"] = "route"
    step: str
    decision: str
    detail: dict[str, Any] = Field(default_factory=dict)


class QueryReply(BaseModel):
    type: Literal["reply"] = "reply"
    answer: str
    session_id: str | None = None
    run_id: str | None = None
    reason: str
    steps: int = 0
    tokens: int = 0
    route: list[RouteEvent]
    tool_calls: list[ToolResultEvent] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    pending: list[CallRecord] = Field(default_factory=list)


KNOWLEDGE_CHECK = (
    "Decide whether the question asks about facts that the document collection holds "
    "(documentation, policies, notes), rather than needing a tool (files, weather, the web)."
)
RELEVANCE_CHECK = "Decide whether the passages contain the answer to the question."
ANSWER = (
    "Answer the question from the numbered passages only, in one or two sentences, and cite "
    "the passage you used like [1]."
)


def _bool_schema(name: str) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": name,
            "schema": {
                "type": "object",
                "properties": {name: {"type": "boolean"}},
                "required": [name],
                "additionalProperties": False,
            },
        },
    }


class Supervisor:
    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        agent: Agent,
        *,
        retriever: Retriever | None = None,
        k: int = 4,
        tracer: trace.Tracer | None = None,
        metrics: AgentMetrics | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.agent = agent
        self.retriever = retriever
        self.k = k
        self.tracer = tracer or trace.NoOpTracer()
        self.metrics = metrics

    async def _complete(self, system: str, content: str, **extra: Any) -> Any:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": content},
            ],
            "temperature": 0,
            **extra,
        }
        try:
            return await traced_completion(self.client, self.tracer, **kwargs)
        except openai.APIError as exc:
            raise UpstreamError(f"the model call failed: {exc}") from exc

    async def _decide(self, name: str, instruction: str, content: str) -> bool:
        r = await self._complete(
            instruction, content, response_format=_bool_schema(name), max_tokens=16
        )
        text = r.choices[0].message.content or "{}"
        try:
            return bool(json.loads(text).get(name))
        except (json.JSONDecodeError, AttributeError) as exc:
            raise UpstreamError(f"the model's {name} answer is not the JSON asked for") from exc

    async def stream(
        self, question: str, session_id: str | None = None, mode: SupervisorMode = "auto"
    ) -> AsyncIterator[BaseModel]:
        """Route events as they happen, the tool agent's events if it runs, then the reply."""
        route: list[RouteEvent] = []
        with agent_span(self.tracer, "supervisor") as span:
            async for event in self._route(question, session_id, mode, route):
                if isinstance(event, RouteEvent):
                    route.append(event)
                    span.add_event(f"{event.step}: {event.decision}")
                if isinstance(event, QueryReply):
                    span.set_attribute(ROUTE_ATTRIBUTE, [f"{r.step}:{r.decision}" for r in route])
                    if self.metrics is not None:
                        answered_by = "knowledge" if event.citations else "tools"
                        self.metrics.queries.labels(answered_by).inc()
                yield event

    async def _route(
        self, question: str, session_id: str | None, mode: SupervisorMode, route: list[RouteEvent]
    ) -> AsyncIterator[BaseModel]:
        # NOTE: ``route`` is filled by :meth:`stream` with each RouteEvent as it is yielded,
        # so a reply built after a yield sees every step taken so far.
        if self.retriever is None:
            yield RouteEvent(
                step="knowledge_check", decision="skipped", detail={"why": "no knowledge base"}
            )
        elif mode == "tools":
            yield RouteEvent(
                step="knowledge_check", decision="skipped", detail={"why": "mode tools"}
            )
        else:
            use = mode == "knowledge" or await self._decide(
                "use_knowledge", KNOWLEDGE_CHECK, question
            )
            yield RouteEvent(step="knowledge_check", decision="knowledge" if use else "tools")
            if use:
                async for event in self._knowledge(question, session_id, mode, route):
                    yield event
                    if isinstance(event, QueryReply):
                        return
        async for event in self._tools(question, session_id, route):
            yield event

    async def _knowledge(
        self, question: str, session_id: str | None, mode: SupervisorMode, route: list[RouteEvent]
    ) -> AsyncIterator[BaseModel]:
        assert self.retriever is not None
        with retrieval_span(self.tracer, "knowledge_base"):
            hits = list(await self.retriever.retrieve(question, k=self.k))
        citations = [
            Citation(
                index=i + 1,
                source=h.source,
                location=h.location(),
                chunk_id=h.chunk_id,
                score=h.score,
                text=h.text,
            )
            for i, h in enumerate(hits)
        ]
        yield RouteEvent(step="retrieval", decision=f"{len(hits)} hits")
        if not hits:
            return
        passages = "\n\n".join(f"[{c.index}] {c.text[:1200]}" for c in citations)
        content = f"Question: {question}\n\nPassages:\n{passages}"
        relevant = mode == "knowledge" or await self._decide("relevant", RELEVANCE_CHECK, content)
        yield RouteEvent(
            step="relevance_check",
            decision="relevant" if relevant else "not relevant",
            detail={"forced": mode == "knowledge"},
        )
        if not relevant:
            return
        try:
            r = await traced_completion(
                self.client,
                self.tracer,
                model=self.model,
                messages=[
                    {"role": "system", "content": ANSWER},
                    {"role": "user", "content": content},
                ],
                temperature=0,
                max_tokens=160,
            )
        except openai.APIError as exc:
            raise UpstreamError(f"the model call failed: {exc}") from exc
        answer = RouteEvent(step="answer", decision="knowledge")
        yield answer
        yield QueryReply(
            answer=r.choices[0].message.content or "",
            session_id=session_id,
            reason="stop",
            steps=1,
            tokens=r.usage.total_tokens if r.usage else 0,
            route=list(route),
            citations=citations,
        )

    async def _tools(
        self, question: str, session_id: str | None, route: list[RouteEvent]
    ) -> AsyncIterator[BaseModel]:
        step = RouteEvent(
            step="tool_agent", decision="run", detail={"tools": sorted(self.agent.tools)}
        )
        yield step
        async for event in self.agent.stream(question, session_id=session_id):
            if isinstance(event, FinalEvent):
                yield reply_from_final(event, list(route))
            else:
                yield event


def reply_from_final(final: FinalEvent, route: list[RouteEvent]) -> QueryReply:
    return QueryReply(
        answer=final.answer,
        session_id=final.session_id,
        run_id=final.run_id,
        reason=final.reason,
        steps=final.steps,
        tokens=final.tokens,
        route=route,
        tool_calls=final.tool_results,
        pending=final.pending,
    )
