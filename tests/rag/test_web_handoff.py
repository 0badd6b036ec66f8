"""The RAG service hands off to web search when the knowledge base has no answer: a real Milvus
Lite store, the deterministic embedding endpoint, the OpenAI-like chat endpoint of test_app, and
the local server that speaks Tavily's API over real HTTP (healthy, failing and slow)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from inferstack.rag.answer import NO_ANSWER, Answerer
from inferstack.rag.app import build_app
from inferstack.websearch import WebSearchSettings
from rag.conftest import ANSWER, FakeEmbeddings, chat_handler, make_kb, make_settings
from support.servers import free_port
from support.tavily import PAGES, TavilyStandIn, tavily_server

OFF_TOPIC = "How many moons does Neptune have?"
KB_QUESTION = "Velmora bridges river capital"
DOCS = [
    {"id": "quarnia", "text": "Quarnia's capital Velmora is a city of bridges over the river."},
    {"id": "reactor", "text": "The Zorblax reactor burns frozen helium pellets."},
]


@pytest.fixture(scope="module")
def provider() -> Iterator[TavilyStandIn]:
    with tavily_server() as stand_in:
        yield stand_in


@pytest.fixture(autouse=True)
def healthy(provider: TavilyStandIn) -> Iterator[None]:
    provider.heal()
    provider.requests.clear()
    yield
    provider.heal()


async def rag_client(
    tmp_path: Path, fake: FakeEmbeddings, web: WebSearchSettings
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(tmp_path, "milvus-lite", {}, min_relevance=0.3, websearch=web)
    kb = make_kb(settings, fake)
    seen: list[dict[str, Any]] = []
    app = build_app(settings, kb, Answerer(kb, transport=chat_handler(seen)))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rag") as c:
            r = await c.post("/v1/rag/documents", json={"documents": DOCS})
            assert r.status_code == 200 and r.json()["added"] == 2, r.text
            c.seen = seen  # type: ignore[attr-defined]
            yield c


@pytest.fixture
async def client(
    tmp_path: Path, fake_embeddings: FakeEmbeddings, provider: TavilyStandIn
) -> AsyncIterator[httpx.AsyncClient]:
    web = WebSearchSettings(url=provider.url, api_key=SecretStr(provider.key), timeout=0.5)
    async for c in rag_client(tmp_path, fake_embeddings, web):
        yield c


def seen(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    return client.seen  # type: ignore[attr-defined, no-any-return]


async def test_off_topic_question_is_answered_from_the_web(
    client: httpx.AsyncClient, provider: TavilyStandIn
) -> None:
    r = await client.post("/v1/rag/query", json={"query": OFF_TOPIC, "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["route"], body["no_answer"], body["answer"]) == ("web_search", False, ANSWER)
    assert body["best_score"] < 0.3  # the knowledge base was asked first and judged irrelevant
    assert [c["source"] for c in body["citations"]] == [PAGES[0].url, PAGES[1].url]
    first = body["citations"][0]
    assert first == {
        "index": 1,
        "origin": "web",
        "source": PAGES[0].url,
        "url": PAGES[0].url,
        "title": PAGES[0].title,
        "text": PAGES[0].content,
        "score": first["score"],
    }
    assert body["cited"] == [1]  # [9] points at no source
    assert provider.requests[-1]["body"]["query"] == OFF_TOPIC
    assert provider.requests[-1]["body"]["max_results"] == 3  # k sources, as for the KB
    prompt = seen(client)[-1]["messages"][-1]["content"]
    assert f"[1] (Moons of Neptune, {PAGES[0].url}) Neptune has sixteen known moons" in prompt
    assert "Velmora" not in prompt and "Question: " + OFF_TOPIC in prompt


async def test_off_topic_question_streams_the_web_route(client: httpx.AsyncClient) -> None:
    async with client.stream(
        "POST", "/v1/rag/query", json={"query": OFF_TOPIC, "stream": True}
    ) as r:
        assert r.status_code == 200
        lines = [line async for line in r.aiter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line[6:]) for line in lines[:-1]]
    assert events[0]["object"] == "rag.citations" and events[0]["route"] == "web_search"
    assert {c["origin"] for c in events[0]["citations"]} == {"web"}
    assert events[0]["citations"][0]["source"] == PAGES[0].url
    assert "".join(e["delta"] for e in events if e["object"] == "rag.delta") == ANSWER
    assert events[-1] == {
        "object": "rag.done",
        "route": "web_search",
        "cited": [1],
        "no_answer": False,
    }


async def test_a_knowledge_base_question_does_not_search(
    client: httpx.AsyncClient, provider: TavilyStandIn
) -> None:
    r = await client.post("/v1/rag/query", json={"query": KB_QUESTION, "k": 2})
    body = r.json()
    assert body["route"] == "knowledge_base" and body["no_answer"] is False
    assert body["citations"][0]["origin"] == "knowledge_base"
    assert body["citations"][0]["doc_id"] == "quarnia"
    assert provider.requests == []


async def test_no_web_results_is_no_answer(
    client: httpx.AsyncClient, provider: TavilyStandIn
) -> None:
    calls = len(seen(client))
    r = await client.post("/v1/rag/query", json={"query": "quantum chromodynamics lattice"})
    body = r.json()
    assert (body["route"], body["no_answer"], body["answer"]) == ("no_answer", True, NO_ANSWER)
    assert body["citations"] == [] and len(provider.requests) == 1
    assert len(seen(client)) == calls  # the chat model is not asked


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("status", 503, "web_search_status"),
        ("status", 401, "web_search_unauthorized"),
        ("malformed", 200, "web_search_malformed"),
        ("no_url", 200, "web_search_malformed"),
        ("slow", 200, "web_search_timeout"),
    ],
)
async def test_a_failing_provider_is_an_explicit_502(
    client: httpx.AsyncClient, provider: TavilyStandIn, mode: str, status: int, code: str
) -> None:
    provider.fail(mode, status)
    calls = len(seen(client))
    for stream in (False, True):
        r = await client.post("/v1/rag/query", json={"query": OFF_TOPIC, "stream": stream})
        assert r.status_code == 502, r.text
        assert r.headers["content-type"].startswith("application/json")
        error = r.json()["error"]
        assert error["type"] == "upstream_error" and error["code"] == code
        assert error["message"].startswith("web search")
    assert len(seen(client)) == calls  # no answer without sources


async def test_an_unreachable_provider_is_an_explicit_502(
    tmp_path: Path, fake_embeddings: FakeEmbeddings
) -> None:
    web = WebSearchSettings(url=f"http://127.0.0.1:{free_port()}/search", api_key=SecretStr("k"))
    async for c in rag_client(tmp_path, fake_embeddings, web):
        r = await c.post("/v1/rag/query", json={"query": OFF_TOPIC})
        assert r.status_code == 502
        assert r.json()["error"]["code"] == "web_search_unreachable"


async def test_without_a_key_nothing_searches(
    tmp_path: Path, fake_embeddings: FakeEmbeddings, provider: TavilyStandIn
) -> None:
    web = WebSearchSettings(url=provider.url)  # a URL, but no key: off
    async for c in rag_client(tmp_path, fake_embeddings, web):
        r = await c.post("/v1/rag/query", json={"query": OFF_TOPIC})
        body = r.json()
        assert (body["route"], body["no_answer"], body["citations"]) == ("no_answer", True, [])
    assert provider.requests == []
