"""The RAG service's /metrics: retrieval latency by mode for /retrieve and /query, and every
request's outcome (answered, no_answer, invalid), streamed or not."""

from __future__ import annotations

import httpx

from rag.test_app import client  # noqa: F401  (the service over a real Milvus Lite store)
from support.prom import sample

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
    assert sample(m, QUERIES, endpoint="query", outcome="answered") == 2  # one of them streamed
    assert sample(m, QUERIES, endpoint="query", outcome="no_answer") == 1
    assert sample(m, QUERIES, endpoint="retrieve", outcome="answered") == 1
    assert sample(m, QUERIES, endpoint="retrieve", outcome="no_answer") == 1
    assert sample(m, QUERIES, endpoint="retrieve", outcome="invalid") == 1
    assert sample(m, RETRIEVAL, mode="hybrid") == 2
    assert sample(m, RETRIEVAL, mode="rrf") == 1
    assert sample(m, RETRIEVAL, mode="bm25") == 2  # the refused request has no latency
