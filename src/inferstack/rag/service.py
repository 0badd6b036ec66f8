"""The RAG service's handlers: plain methods the routes call (no HTTP in here).

Each retrieval is a ``retrieval {collection}`` span (mode, top-k, hits, and for a query the
route it took); the query's embedding is its ``embeddings {model}`` child, and the answer's
model call a ``chat {model}`` span after it (:class:`~inferstack.rag.answer.Answerer`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import trace

from inferstack.errors import InvalidRequestError
from inferstack.rag.answer import Answerer
from inferstack.rag.api import IngestRequest, QueryRequest, RetrieveRequest
from inferstack.rag.grounding import Route, Sources, citation_dict
from inferstack.rag.ingest import ingest_documents
from inferstack.rag.metrics import RagMetrics
from inferstack.rag.retrieve import KnowledgeBase
from inferstack.rag.tracing import retrieval
from inferstack.rag.types import Document
from inferstack.telemetry.semconv import Attr

__all__ = ["RagService"]


class RagService:
    def __init__(
        self,
        kb: KnowledgeBase,
        answerer: Answerer,
        metrics: RagMetrics | None = None,
        *,
        tracer: trace.Tracer | None = None,
        record_content: bool = False,
    ) -> None:
        self.kb = kb
        self.answerer = answerer
        self.metrics = metrics or RagMetrics()
        self.tracer = tracer or trace.NoOpTracer()
        self.record_content = record_content
        self._ingest_lock = asyncio.Lock()

    def _retrieval(self, query: str, mode: str, k: int) -> AbstractContextManager[trace.Span]:
        return retrieval(
            self.tracer, self.kb.settings, query, mode, k, record_content=self.record_content
        )

    async def retrieve(self, body: RetrieveRequest) -> dict[str, Any]:
        with self.metrics.counting("retrieve") as outcome:
            with self._retrieval(body.query, body.mode, body.k) as span:
                with self.metrics.retrieving(body.mode):
                    hits = await self.kb.retrieve(
                        body.query, k=body.k, mode=body.mode, filters=body.filters
                    )
                route: Route = "knowledge_base" if hits else "no_answer"
                span.set_attribute(Attr.RETRIEVAL_HITS, len(hits))
                span.set_attribute(Attr.RAG_ROUTE, route)
            trace.get_current_span().set_attribute(Attr.RAG_ROUTE, route)
            outcome(route)
        return {
            "object": "list",
            "data": [citation_dict(i + 1, h) for i, h in enumerate(hits)],
        }

    async def _route(self, body: QueryRequest) -> Sources:
        """The answer's sources: the knowledge base's retrieval (timed), then the route."""
        k = body.k or self.kb.settings.context_chunks
        with self._retrieval(body.query, body.mode, k) as span:
            with self.metrics.retrieving(body.mode):
                hits, best = await self.answerer.sources(
                    body.query, k=k, mode=body.mode, filters=body.filters
                )
            span.set_attribute(Attr.RETRIEVAL_HITS, len(hits))
            src = await self.answerer.decide(body.query, hits, best, k=body.k)
            span.set_attribute(Attr.RAG_ROUTE, src.route)
        trace.get_current_span().set_attribute(Attr.RAG_ROUTE, src.route)
        return src

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
