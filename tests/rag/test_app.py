"""The RAG HTTP service in memory: a real Milvus Lite store, the deterministic embedding
endpoint, and a chat endpoint that answers like an OpenAI server (JSON and SSE)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from inferstack.rag.answer import NO_ANSWER, Answerer
from inferstack.rag.app import build_app
from rag.conftest import ANSWER, FakeEmbeddings, chat_handler, make_kb, make_settings


@pytest.fixture
async def client(
    tmp_path: Path, fake_embeddings: FakeEmbeddings
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(tmp_path, "milvus-lite", {}, min_relevance=0.3)
    kb = make_kb(settings, fake_embeddings)
    seen: list[dict] = []
    app = build_app(settings, kb, Answerer(kb, transport=chat_handler(seen)))
    app.state.seen = seen
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rag") as c:
            r = await c.post(
                "/v1/rag/documents",
                json={
                    "documents": [
                        {
                            "id": "quarnia",
                            "text": "Quarnia's capital Velmora is a city of bridges over the river.",  # noqa: E501
                            "metadata": {"topic": "geo"},
                        },
                        {
                            "id": "reactor",
                            "text": "The Zorblax reactor burns frozen helium pellets.",
                            "metadata": {"topic": "tech"},
                        },
                    ]
                },
            )
            assert r.status_code == 200, r.text
            assert r.json()["added"] == 2
            c.seen = seen  # type: ignore[attr-defined]
            yield c


async def test_query_answers_with_citations_to_real_chunks(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/rag/query", json={"query": "Velmora bridges river capital", "k": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["route"], body["no_answer"]) == ("knowledge_base", False)
    assert body["answer"] == ANSWER
    assert body["cited"] == [1]  # [9] points at no source and is dropped
    first = body["citations"][0]
    assert first["doc_id"] == "quarnia"
    assert "Velmora" in first["text"]
    prompt = client.seen[-1]["messages"][-1]["content"]  # type: ignore[attr-defined]
    assert "[1] (quarnia) Quarnia's capital Velmora" in prompt


async def test_query_streams_citations_deltas_done(client: httpx.AsyncClient) -> None:
    async with client.stream(
        "POST", "/v1/rag/query", json={"query": "Velmora bridges", "stream": True}
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in r.aiter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line[6:]) for line in lines[:-1]]
    assert events[0]["object"] == "rag.citations"
    assert events[0]["citations"][0]["doc_id"] == "quarnia"
    text = "".join(e["delta"] for e in events if e["object"] == "rag.delta")
    assert text == ANSWER
    assert events[-1] == {
        "object": "rag.done",
        "route": "knowledge_base",
        "cited": [1],
        "no_answer": False,
    }


async def test_no_answer_when_nothing_is_relevant(client: httpx.AsyncClient) -> None:
    calls = len(client.seen)  # type: ignore[attr-defined]
    r = await client.post("/v1/rag/query", json={"query": "submarine sonar frequencies"})
    body = r.json()
    assert (body["route"], body["no_answer"]) == ("no_answer", True)
    assert body["answer"] == NO_ANSWER
    assert body["citations"] == []
    assert len(client.seen) == calls  # type: ignore[attr-defined]


async def test_retrieve_with_filters(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/rag/retrieve", json={"query": "reactor pellets", "k": 5, "filters": {"topic": "geo"}}
    )
    assert r.status_code == 200
    assert [h["doc_id"] for h in r.json()["data"]] == ["quarnia"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"query": ""}, "query"),
        ({"query": "x", "k": 0}, "k"),
        ({"query": "x", "mode": "magic"}, "mode"),
        ({"query": "x", "filters": {"topic": ["a"]}}, "filters.topic"),
        ({"query": "x", "filters": {"bad key": "a"}}, "filters"),
        ({"query": "x", "unknown": 1}, "unknown"),
    ],
)
async def test_client_mistakes_are_4xx_naming_param(
    client: httpx.AsyncClient, body: dict, param: str
) -> None:
    for stream in (False, True):
        r = await client.post("/v1/rag/query", json={**body, "stream": stream})
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["param"] is not None and error["param"].startswith(param)


async def test_ingest_endpoint_is_idempotent_and_removes(client: httpx.AsyncClient) -> None:
    doc = {
        "id": "reactor",
        "text": "The Zorblax reactor burns frozen helium pellets.",
        "metadata": {"topic": "tech"},
    }
    r = await client.post("/v1/rag/documents", json={"documents": [doc]})
    assert r.json()["unchanged"] == 1 and r.json()["store_writes"] == 0
    r = await client.post("/v1/rag/documents", json={"remove": ["reactor"]})
    assert r.json()["removed"] == 1
    stats = (await client.get("/v1/rag/stats")).json()
    assert (stats["documents"], stats["chunks"], stats["vectors"]) == (1, 1, 1)
    dup = await client.post("/v1/rag/documents", json={"documents": [doc, doc]})
    assert dup.status_code == 400 and dup.json()["error"]["param"] == "documents"


async def test_a_chat_model_that_times_out_mid_stream_is_an_error_event(
    tmp_path: Path, fake_embeddings: FakeEmbeddings
) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer within the request timeout", request=request)

    settings = make_settings(tmp_path, "milvus-lite", {}, min_relevance=0.3)
    kb = make_kb(settings, fake_embeddings)
    app = build_app(settings, kb, Answerer(kb, transport=httpx.MockTransport(slow)))
    doc = {"id": "quarnia", "text": "Quarnia's capital Velmora is a city of bridges."}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rag") as c:
            await c.post("/v1/rag/documents", json={"documents": [doc]})
            query = {"query": "Velmora bridges", "stream": True}
            async with c.stream("POST", "/v1/rag/query", json=query) as r:
                assert r.status_code == 200  # the citations event went out first
                lines = [x async for x in r.aiter_lines() if x.startswith("data: ")]
            whole = await c.post("/v1/rag/query", json={"query": "Velmora bridges"})
    assert lines[-1] == "data: [DONE]"
    error = json.loads(lines[-2][6:])["error"]
    assert error["type"] == "upstream_error" and "ReadTimeout" in error["message"]
    assert whole.status_code == 502 and whole.json()["error"]["type"] == "upstream_error"
