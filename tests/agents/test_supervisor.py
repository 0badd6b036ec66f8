"""The supervisor's routes against a strict scripted model and an in-memory retriever."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from inferstack.agents.runtime import Agent, SessionStore
from inferstack.agents.supervisor import QueryReply, Supervisor
from inferstack.agents.tools import Tool
from inferstack.rag import Hit
from support.fake_chat import FakeModel, call, text


class Docs:
    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.queries: list[str] = []

    async def retrieve(self, query: str, *, k: int = 5, mode="hybrid", filters=None) -> list[Hit]:
        self.queries.append(query)
        return self.hits[:k]


def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city}: sunny"


def traced() -> tuple[InMemorySpanExporter, TracerProvider]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter, provider


async def run(sup: Supervisor, question: str, mode: str = "auto") -> tuple[list, QueryReply]:
    events = [e async for e in sup.stream(question, None, mode)]  # type: ignore[arg-type]
    assert isinstance(events[-1], QueryReply)
    return events, events[-1]


HITS = [
    Hit("c1", "handbook.md", "handbook.md", 0, 0, 21, "Refunds take 14 days.", 0.9),
    Hit("c2", "faq.md", "faq.md", 3, 40, 41, "x", 0.5),
]


async def test_knowledge_route_with_citations(store: SessionStore) -> None:
    model = FakeModel(
        text('{"use_knowledge": true}'), text('{"relevant": true}'), text("14 days [1].")
    )
    exporter, provider = traced()
    tracer = provider.get_tracer("t")
    client = model.client()
    agent = Agent(client, "m", store, tools=[Tool.from_function(lookup)], tracer=tracer)
    docs = Docs(HITS)
    sup = Supervisor(client, "m", agent, retriever=docs, tracer=tracer)
    _, reply = await run(sup, "How long do refunds take?")
    assert [(r.step, r.decision) for r in reply.route] == [
        ("knowledge_check", "knowledge"),
        ("retrieval", "2 hits"),
        ("relevance_check", "relevant"),
        ("answer", "knowledge"),
    ]
    assert reply.answer == "14 days [1]." and reply.citations[0].source == "handbook.md"
    assert reply.citations[1].location == "faq.md#chunk=3 (chars 40-41)"
    assert model.requests[0]["response_format"]["json_schema"]["name"] == "use_knowledge"
    assert "Refunds take 14 days." in model.requests[2]["messages"][1]["content"]
    spans = {s.name: s for s in exporter.get_finished_spans()}
    route = spans["invoke_agent supervisor"].attributes["inferstack.agent.route"]
    assert list(route) == [
        "knowledge_check:knowledge",
        "retrieval:2 hits",
        "relevance_check:relevant",
        "answer:knowledge",
    ]
    assert "retrieval knowledge_base" in spans
    # each model call of the supervisor is a chat span under it: two decisions, the answer
    chats = [s for s in exporter.get_finished_spans() if s.name == "chat m"]
    supervisor_id = spans["invoke_agent supervisor"].context.span_id
    assert [c.parent.span_id for c in chats if c.parent] == [supervisor_id] * 3
    assert [c.attributes["gen_ai.request.max_tokens"] for c in chats] == [16, 16, 160]
    assert all(c.attributes["server.address"] == "model.test" for c in chats)


async def test_irrelevant_passages_fall_through_to_the_tool_agent(store: SessionStore) -> None:
    model = FakeModel(
        text('{"use_knowledge": true}'),
        text('{"relevant": false}'),
        call("lookup", city="Oslo"),
        text("Sunny in Oslo."),
    )
    exporter, provider = traced()
    tracer = provider.get_tracer("t")
    client = model.client()
    agent = Agent(client, "m", store, tools=[Tool.from_function(lookup)], tracer=tracer)
    sup = Supervisor(client, "m", agent, retriever=Docs(HITS), tracer=tracer)
    events, reply = await run(sup, "Weather in Oslo?")
    assert [r.step for r in reply.route] == [
        "knowledge_check",
        "retrieval",
        "relevance_check",
        "tool_agent",
    ]
    assert reply.route[2].decision == "not relevant"
    assert reply.answer == "Sunny in Oslo." and reply.tool_calls[0].output == "Oslo: sunny"
    assert reply.run_id and reply.session_id
    names = [s.name for s in exporter.get_finished_spans()]
    assert "execute_tool lookup" in names and "invoke_agent agent" in names
    assert any(getattr(e, "type", "") == "tool_result" for e in events)


async def test_without_a_knowledge_base_the_tool_agent_runs(store: SessionStore) -> None:
    model = FakeModel(text("Hello."))
    client = model.client()
    sup = Supervisor(client, "m", Agent(client, "m", store))
    _, reply = await run(sup, "hi")
    assert [(r.step, r.decision) for r in reply.route] == [
        ("knowledge_check", "skipped"),
        ("tool_agent", "run"),
    ]
    assert len(model.requests) == 1


async def test_forced_knowledge_mode_skips_the_checks(store: SessionStore) -> None:
    model = FakeModel(text("From the handbook [1]."))
    client = model.client()
    sup = Supervisor(client, "m", Agent(client, "m", store), retriever=Docs(HITS))
    _, reply = await run(sup, "refunds?", mode="knowledge")
    assert [r.step for r in reply.route] == [
        "knowledge_check",
        "retrieval",
        "relevance_check",
        "answer",
    ]
    assert len(model.requests) == 1 and reply.citations
