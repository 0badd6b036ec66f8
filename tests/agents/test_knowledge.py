"""The knowledge base over the RAG service's HTTP API, and the knowledge MCP server."""

from __future__ import annotations

import json

import httpx
import pytest

from inferstack.agents.knowledge import RagClient
from inferstack.agents.mcp import MCPConnection, MCPServerSpec
from inferstack.agents.mcp.servers.knowledge import build_knowledge_server
from inferstack.errors import InvalidRequestError, UpstreamError
from inferstack.rag import Hit, Retriever

HIT = {
    "index": 1,
    "chunk_id": "c1",
    "doc_id": "d1",
    "source": "handbook.md",
    "position": 2,
    "start": 10,
    "end": 31,
    "score": 0.8,
    "scores": {"vector": 0.8},
    "text": "Refunds: 14 days.",
    "metadata": {"lang": "en"},
}


def rag_api(request: httpx.Request) -> httpx.Response:
    """The RAG service's retrieve/documents contract, strict on its bodies."""
    body = json.loads(request.content) if request.content else {}
    if request.url.path == "/v1/rag/retrieve":
        if not body.get("query") or not 1 <= body.get("k", 5) <= 100:
            return httpx.Response(400, json={"error": {"message": "bad k", "param": "k"}})
        return httpx.Response(200, json={"object": "list", "data": [HIT][: body["k"]]})
    if request.url.path == "/v1/rag/documents":
        n = len(body.get("documents", []))
        return httpx.Response(200, json={"object": "rag.ingest", "added": n, "removed": 0})
    if request.url.path == "/ready":
        return httpx.Response(200, json={"status": "ready"})
    return httpx.Response(404, json={"error": {"message": "no route"}})


def client(handler=rag_api) -> RagClient:
    return RagClient(
        "http://rag.test", http=httpx.AsyncClient(transport=httpx.MockTransport(handler))
    )


async def test_rag_client_is_a_retriever() -> None:
    rag = client()
    assert isinstance(rag, Retriever)
    (hit,) = await rag.retrieve("refunds?", k=3)
    assert hit == Hit(
        "c1",
        "d1",
        "handbook.md",
        2,
        10,
        31,
        "Refunds: 14 days.",
        0.8,
        {"lang": "en"},
        {"vector": 0.8},
    )
    with pytest.raises(InvalidRequestError) as err:
        await rag.retrieve("x", k=500)
    assert err.value.param == "k"
    assert (await rag.ingest({"documents": [{"id": "a", "text": "t"}]}))["added"] == 1
    assert await rag.reachable()


async def test_rag_failures_are_upstream_errors() -> None:
    rag = client(lambda r: httpx.Response(503, json={"error": {"message": "down"}}))
    with pytest.raises(UpstreamError):
        await rag.retrieve("x")


async def test_knowledge_mcp_server() -> None:
    spec = MCPServerSpec(name="kb", server=build_knowledge_server(client()))
    async with MCPConnection(spec) as conn:
        (tool,) = await conn.tools()
        assert tool.name == "search_knowledge" and not tool.destructive
        out = await tool.call({"query": "refund time"})
        assert out.data == [
            {
                "index": 1,
                "source": "handbook.md",
                "location": "handbook.md#chunk=2 (chars 10-31)",
                "score": 0.8,
                "text": "Refunds: 14 days.",
            }
        ]
        out = await tool.call({"query": ""})
        assert out.is_error
