"""The RAG service's handlers: plain methods the routes call (no HTTP in here)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from inferstack.errors import InvalidRequestError
from inferstack.rag.answer import Answerer
from inferstack.rag.api import IngestRequest, QueryRequest, RetrieveRequest
from inferstack.rag.grounding import Sources, citation_dict
from inferstack.rag.ingest import ingest_documents
from inferstack.rag.metrics import RagMetrics
from inferstack.rag.retrieve import KnowledgeBase
from inferstack.rag.types import Document

__all__ = ["RagService"]


class RagService:
    def __init__(
        self, kb: KnowledgeBase, answerer: Answerer, metrics: RagMetrics | None = None
    ) -> None:
        self.kb = kb
        self.answerer = answerer
        self.metrics = metrics or RagMetrics()
        self._ingest_lock = asyncio.Lock()

    async def retrieve(self, body: RetrieveRequest) -> dict[str, Any]:
        with self.metrics.counting("retrieve") as outcome:
            with self.metrics.retrieving(body.mode):
                hits = await self.kb.retrieve(
                    body.query, k=body.k, mode=body.mode, filters=body.filters
                )
            outcome("knowledge_base" if hits else "no_answer")
        return {
            "object": "list",
            "data": [citation_dict(i + 1, h) for i, h in enumerate(hits)],
        }

    async def _route(self, body: QueryRequest) -> Sources:
        """The answer's sources: the knowledge base's retrieval (timed), then the route."""
        with self.metrics.retrieving(body.mode):
            hits, best = await self.answerer.sources(
                body.query, k=body.k, mode=body.mode, filters=body.filters
            )
        return await self.answerer.decide(body.query, hits, best, k=body.k)

    async def query(self, body: QueryRequest) -> dict[str, Any]:
        with self.metrics.counting("query") as outcome:
            src = await self._route(body)
            answer = await self.answerer.answer_from(body.query, src, max_tokens=body.max_tokens)
            outcome(answer.route)
        return answer.as_dict()

    async def stream(self, body: QueryRequest) -> AsyncIterator[dict[str, Any]]:
        with self.metrics.counting("query") as outcome:
            src = await self._route(body)
            async for event in self.answerer.stream_from(
                body.query, src, max_tokens=body.max_tokens
            ):
                if event["object"] == "rag.done":
                    outcome(event["route"])
                yield event

    async def ingest(self, body: IngestRequest) -> dict[str, Any]:
        ids = [d.id for d in body.documents]
        if len(ids) != len(set(ids)):
            raise InvalidRequestError("document ids must be unique", param="documents")
        docs = [Document(d.id, d.source or d.id, d.text, dict(d.metadata)) for d in body.documents]
        async with self._ingest_lock:
            report = await ingest_documents(self.kb, docs, remove=body.remove)
        return {"object": "rag.ingest", **report.as_dict()}

    async def stats(self) -> dict[str, Any]:
        store = await self.kb.store()
        counts = self.kb.docstore.counts()
        return {
            "object": "rag.stats",
            "collection": self.kb.settings.collection,
            "store": store.name,
            "documents": counts["documents"],
            "chunks": counts["committed"],
            "pending_chunks": counts["pending"],
            "vectors": await asyncio.to_thread(store.count),
        }
