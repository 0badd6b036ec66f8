"""The RAG service's spans in the GenAI conventions (in-memory exporter): one query is one trace
— the SERVER span continuing the caller's traceparent, ``retrieval {collection}`` with the
query's ``embeddings {model}`` under it, then ``chat {model}`` — and the embedding and chat
requests carry their spans as traceparent to the next hop."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from inferstack.rag.answer import Answerer
from inferstack.rag.app import build_app
from inferstack.rag.embedder import Embedder
from inferstack.rag.retrieve import KnowledgeBase
from inferstack.telemetry import Telemetry, TelemetrySettings
from rag.conftest import FakeEmbeddings, chat_handler, make_settings

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
DOCS = [
    {"id": "quarnia", "text": "Quarnia's capital Velmora is a city of bridges over the river."},
    {"id": "reactor", "text": "The Zorblax reactor burns frozen helium pellets."},
]


@dataclass
class Traced:
    client: httpx.AsyncClient
    exporter: InMemorySpanExporter
    telemetry: Telemetry
    kb: KnowledgeBase
    collection: str
    headers: dict[str, list[str | None]]

    def spans(self, trace_id: str = TRACE) -> list[ReadableSpan]:
        self.telemetry.flush()
        return [
            s
            for s in self.exporter.get_finished_spans()
            if f"{s.context.trace_id:032x}" == trace_id
        ]


def _recording(handler: Any, seen: list[str | None]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("traceparent"))
        return handler(request)  # type: ignore[no-any-return]

    return httpx.MockTransport(handle)


async def _traced(
    tmp_path: Path, fake: FakeEmbeddings, *, record_content: bool = False
) -> AsyncIterator[Traced]:
    exporter = InMemorySpanExporter()
    tel = Telemetry.from_settings(
        TelemetrySettings(record_content=record_content), service_name="rag", exporter=exporter
    )
    settings = make_settings(tmp_path, "milvus-lite", {}, min_relevance=0.3)
    headers: dict[str, list[str | None]] = {"embeddings": [], "chat": []}
    embedder = Embedder(
        settings.embedding_base_url,
        settings.embedding_model,
        transport=_recording(fake.handler, headers["embeddings"]),
        tracer=tel.tracer,
    )
    kb = KnowledgeBase(settings, embedder)
    chat = chat_handler([])
    answerer = Answerer(
        kb, transport=_recording(chat.handle_request, headers["chat"]), tracer=tel.tracer
    )
    app = build_app(settings, kb, answerer, telemetry=tel)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rag") as c:
            r = await c.post("/v1/rag/documents", json={"documents": DOCS})
            assert r.status_code == 200, r.text
            yield Traced(c, exporter, tel, kb, settings.collection, headers)
    tel.shutdown()


@pytest.fixture
async def traced(tmp_path: Path, fake_embeddings: FakeEmbeddings) -> AsyncIterator[Traced]:
    async for t in _traced(tmp_path, fake_embeddings):
        yield t


def _one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    [span] = [s for s in spans if s.name == name]
    return span


def _parent(span: ReadableSpan) -> str | None:
    return f"{span.parent.span_id:016x}" if span.parent else None


def _id(span: ReadableSpan) -> str:
    return f"{span.context.span_id:016x}"


def _traceparent(span: ReadableSpan) -> str:
    return f"00-{TRACE}-{_id(span)}-01"


async def test_a_query_is_one_trace_of_genai_spans(traced: Traced) -> None:
    traced.headers["embeddings"].clear()
    r = await traced.client.post(
        "/v1/rag/query",
        json={"query": "Velmora bridges river capital", "k": 2},
        headers={"traceparent": f"00-{TRACE}-{PARENT}-01"},
    )
    assert r.status_code == 200 and r.json()["route"] == "knowledge_base", r.text
    spans = traced.spans()
    server = _one(spans, "POST /v1/rag/query")
    assert server.kind is SpanKind.SERVER and _parent(server) == PARENT
    assert server.attributes and server.attributes["inferstack.rag.route"] == "knowledge_base"

    retrieval = _one(spans, f"retrieval {traced.collection}")
    assert retrieval.kind is SpanKind.CLIENT and _parent(retrieval) == _id(server)
    a = dict(retrieval.attributes or {})
    assert a["gen_ai.operation.name"] == "retrieval"
    assert a["gen_ai.data_source.id"] == traced.collection
    assert a["gen_ai.retrieval.top_k"] == 2
    assert a["inferstack.retrieval.mode"] == "hybrid"
    assert a["inferstack.retrieval.store"] == "milvus-lite"
    assert a["inferstack.retrieval.hits"] == len(r.json()["citations"]) >= 1
    assert a["inferstack.rag.route"] == "knowledge_base"
    assert "gen_ai.retrieval.query.text" not in a  # content is off by default

    embeddings = _one(spans, "embeddings fake-embed")
    assert embeddings.kind is SpanKind.CLIENT and _parent(embeddings) == _id(retrieval)
    e = dict(embeddings.attributes or {})
    assert e["gen_ai.operation.name"] == "embeddings"
    assert e["gen_ai.request.model"] == "fake-embed"
    assert e["gen_ai.embeddings.dimension.count"] == 64
    assert e["inferstack.embeddings.inputs"] == 1
    assert (e["server.address"], e["server.port"]) == ("127.0.0.1", 8001)

    chat = _one(spans, "chat default")
    assert chat.kind is SpanKind.CLIENT and _parent(chat) == _id(server)
    assert chat.start_time is not None and retrieval.end_time is not None
    assert chat.start_time >= retrieval.end_time
    c = dict(chat.attributes or {})
    assert c["gen_ai.operation.name"] == "chat"
    assert c["gen_ai.request.model"] == "default"
    assert c["gen_ai.request.stream"] is False
    assert c["gen_ai.response.id"] == "c1"
    assert c["gen_ai.response.finish_reasons"] == ("stop",)
    assert (c["gen_ai.usage.input_tokens"], c["gen_ai.usage.output_tokens"]) == (10, 5)
    assert "gen_ai.input.messages" not in c

    # the next hops continue the trace under the client spans
    assert traced.headers["embeddings"] == [_traceparent(embeddings)]
    assert traced.headers["chat"] == [_traceparent(chat)]


async def test_a_streamed_query_ends_its_chat_span_inside_the_trace(traced: Traced) -> None:
    async with traced.client.stream(
        "POST",
        "/v1/rag/query",
        json={"query": "Velmora bridges", "stream": True},
        headers={"traceparent": f"00-{TRACE}-{PARENT}-01"},
    ) as r:
        events = [line async for line in r.aiter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[-2][6:])["object"] == "rag.done"
    spans = traced.spans()
    server = _one(spans, "POST /v1/rag/query")
    chat = _one(spans, "chat default")
    assert _parent(chat) == _id(server)
    assert chat.attributes and chat.attributes["gen_ai.request.stream"] is True
    assert traced.headers["chat"][-1] == _traceparent(chat)
    assert server.end_time is not None and chat.end_time is not None
    assert chat.end_time <= server.end_time


async def test_retrieve_and_no_answer_have_their_routes(traced: Traced) -> None:
    r = await traced.client.post(
        "/v1/rag/retrieve",
        json={"query": "reactor pellets", "mode": "bm25", "k": 3},
        headers={"traceparent": f"00-{TRACE}-{PARENT}-01"},
    )
    assert r.status_code == 200 and r.json()["data"], r.text
    other = "5bf92f3577b34da6a3ce929d0e0e4737"
    r = await traced.client.post(
        "/v1/rag/query",
        json={"query": "submarine sonar frequencies"},
        headers={"traceparent": f"00-{other}-{PARENT}-01"},
    )
    assert r.status_code == 200 and r.json()["route"] == "no_answer", r.text

    retrieval = _one(traced.spans(), f"retrieval {traced.collection}")
    a = dict(retrieval.attributes or {})
    assert (a["inferstack.retrieval.mode"], a["gen_ai.retrieval.top_k"]) == ("bm25", 3)
    assert a["inferstack.rag.route"] == "knowledge_base"
    assert not [s for s in traced.spans() if s.name.startswith("embeddings")]  # bm25 alone

    spans = traced.spans(other)
    assert _one(spans, f"retrieval {traced.collection}").attributes["inferstack.rag.route"] == (  # type: ignore[index]
        "no_answer"
    )
    assert not [s for s in spans if s.name.startswith("chat")]  # the model is not asked


async def test_a_failing_embedding_server_marks_its_span(
    tmp_path: Path, fake_embeddings: FakeEmbeddings
) -> None:
    fake_embeddings.poison = "sonar"
    async for t in _traced(tmp_path, fake_embeddings):
        r = await t.client.post(
            "/v1/rag/query",
            json={"query": "sonar depth"},
            headers={"traceparent": f"00-{TRACE}-{PARENT}-01"},
        )
        assert r.status_code == 502, r.text
        spans = t.spans()
        embeddings = _one(spans, "embeddings fake-embed")
        assert embeddings.status.status_code is StatusCode.ERROR
        assert embeddings.attributes and embeddings.attributes["error.type"] == "EmbeddingError"
        retrieval = _one(spans, f"retrieval {t.collection}")
        assert retrieval.attributes and retrieval.attributes["error.type"] == "EmbeddingError"


async def test_query_text_is_recorded_only_with_content_recording(
    tmp_path: Path, fake_embeddings: FakeEmbeddings
) -> None:
    async for t in _traced(tmp_path, fake_embeddings, record_content=True):
        r = await t.client.post(
            "/v1/rag/retrieve",
            json={"query": "reactor pellets"},
            headers={"traceparent": f"00-{TRACE}-{PARENT}-01"},
        )
        assert r.status_code == 200, r.text
        retrieval = _one(t.spans(), f"retrieval {t.collection}")
        assert retrieval.attributes
        assert retrieval.attributes["gen_ai.retrieval.query.text"] == "reactor pellets"


async def test_with_tracing_off_the_callers_trace_still_reaches_the_models(
    tmp_path: Path, fake_embeddings: FakeEmbeddings
) -> None:
    settings = make_settings(tmp_path, "milvus-lite", {}, min_relevance=0.3)
    seen: list[str | None] = []
    embedder = Embedder(
        settings.embedding_base_url,
        settings.embedding_model,
        transport=_recording(fake_embeddings.handler, seen),
    )
    kb = KnowledgeBase(settings, embedder)
    app = build_app(settings, kb, Answerer(kb, transport=chat_handler([])))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rag") as c:
            r = await c.post(
                "/v1/rag/retrieve",
                json={"query": "reactor", "mode": "vector"},
                headers={"traceparent": f"00-{TRACE}-{PARENT}-01"},
            )
            assert r.status_code == 200, r.text
    assert seen[-1] == f"00-{TRACE}-{PARENT}-01"


async def test_the_answerer_alone_traces_its_retrieval_and_chat(
    tmp_path: Path, fake_embeddings: FakeEmbeddings
) -> None:
    """``inferstack ask``'s path (no service): ``retrieval`` with its embedding, then ``chat``,
    under the command's root span."""
    async for t in _traced(tmp_path, fake_embeddings):
        answerer = Answerer(
            t.kb,
            transport=_recording(chat_handler([]).handle_request, []),
            tracer=t.telemetry.tracer,
        )
        with t.telemetry.tracer.start_as_current_span("ask") as root:
            answer = await answerer.answer("Velmora bridges river capital", k=2)
        await answerer.aclose()
        assert answer.route == "knowledge_base"
        trace_id = f"{root.get_span_context().trace_id:032x}"
        spans = t.spans(trace_id)
        ask = _one(spans, "ask")
        retrieval = _one(spans, f"retrieval {t.collection}")
        assert _parent(retrieval) == _id(ask)
        assert (
            retrieval.attributes
            and retrieval.attributes["inferstack.rag.route"] == "knowledge_base"
        )
        assert retrieval.attributes["gen_ai.retrieval.top_k"] == 2
        assert _parent(_one(spans, "embeddings fake-embed")) == _id(retrieval)
        assert _parent(_one(spans, "chat default")) == _id(ask)
