"""The RAG service's /metrics: retrieval latency by mode for /retrieve and /query, and every
request's outcome (the route: knowledge_base, no_answer; or invalid), streamed or not."""

from __future__ import annotations

from pathlib import Path

import httpx
from pydantic import SecretStr

from inferstack.websearch import WebSearchSettings
from rag.conftest import FakeEmbeddings
from rag.test_app import client  # noqa: F401  (the service over a real Milvus Lite store)
from rag.test_web_handoff import OFF_TOPIC, provider, rag_client  # noqa: F401
from support.prom import sample
from support.tavily import TavilyStandIn

QUERIES = "inferstack_rag_queries_total"
RETRIEVAL = "inferstack_rag_retrieval_duration_seconds_count"


async def test_retrievals_and_outcomes_are_counted(client: httpx.AsyncClient) -> None:  # noqa: F811
    await client.post("/v1/rag/query", json={"query": "Velmora bridges river capital"})
    await client.post("/v1/rag/query", json={"query": "submarine sonar frequencies"})
    async with client.stream(
        "POST", "/v1/rag/query", json={"query": "Velmora bridges", "stream": True, "mode": "rrf"}
    ) as r:
        assert [line async for line in r.aiter_lines()][-2] == "data: [DONE]"
    hits = await client.post("/v1/rag/retrieve", json={"query": "reactor pellets", "mode": "bm25"})
    assert hits.status_code == 200 and hits.json()["data"]
    none = await client.post(
        "/v1/rag/retrieve", json={"query": "reactor", "mode": "bm25", "filters": {"topic": "x"}}
    )
    assert none.status_code == 200 and none.json()["data"] == []
    bad = await client.post("/v1/rag/retrieve", json={"query": "x", "filters": {"bad key": "a"}})
    assert bad.status_code == 400

    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    m = r.text
    assert sample(m, QUERIES, endpoint="query", outcome="knowledge_base") == 2  # one streamed
    assert sample(m, QUERIES, endpoint="query", outcome="no_answer") == 1
    assert sample(m, QUERIES, endpoint="retrieve", outcome="knowledge_base") == 1
    assert sample(m, QUERIES, endpoint="retrieve", outcome="no_answer") == 1
    assert sample(m, QUERIES, endpoint="retrieve", outcome="invalid") == 1
    assert sample(m, RETRIEVAL, mode="hybrid") == 2
    assert sample(m, RETRIEVAL, mode="rrf") == 1
    assert sample(m, RETRIEVAL, mode="bm25") == 2  # the refused request has no latency


async def test_web_search_answers_and_failures_are_counted(
    tmp_path: Path,
    fake_embeddings: FakeEmbeddings,
    provider: TavilyStandIn,  # noqa: F811
) -> None:
    web = WebSearchSettings(url=provider.url, api_key=SecretStr(provider.key), timeout=0.5)
    async for c in rag_client(tmp_path, fake_embeddings, web):
        r = await c.post("/v1/rag/query", json={"query": OFF_TOPIC})
        assert r.status_code == 200 and r.json()["route"] == "web_search"
        provider.fail("status", 503)
        try:
            for stream in (False, True):
                r = await c.post("/v1/rag/query", json={"query": OFF_TOPIC, "stream": stream})
                assert r.status_code == 502, r.text
        finally:
            provider.heal()
        m = (await c.get("/metrics")).text
    assert sample(m, QUERIES, endpoint="query", outcome="web_search") == 1
    assert sample(m, QUERIES, endpoint="query", outcome="error") == 2
    # the knowledge base was searched each time, whatever the web did after
    assert sample(m, RETRIEVAL, mode="hybrid") == 3
