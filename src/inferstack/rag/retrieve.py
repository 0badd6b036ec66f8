"""The knowledge base: docstore + vector store + keyword index + embedder, and retrieval.

:class:`KnowledgeBase` implements :class:`~inferstack.rag.retriever.Retriever`. Vector hits are
joined with the docstore's committed chunks, so only fully ingested chunks are ever returned.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from opentelemetry.trace import Tracer

from inferstack.errors import InvalidRequestError
from inferstack.rag.chunking import Chunker
from inferstack.rag.docstore import DocStore
from inferstack.rag.embedder import Embedder
from inferstack.rag.fusion import reciprocal_rank_fusion, weighted_fusion
from inferstack.rag.keyword import KeywordIndex
from inferstack.rag.retriever import RetrievalMode
from inferstack.rag.settings import RagSettings
from inferstack.rag.stores import VectorStore, open_store, validate_filters
from inferstack.rag.tokenizer import load_counter
from inferstack.rag.types import Hit, Metadata

__all__ = ["MODES", "KnowledgeBase", "Ranking", "open_knowledge_base"]

MODES: tuple[RetrievalMode, ...] = ("vector", "bm25", "hybrid", "rrf", "weighted")


@dataclass
class Ranking:
    """Every mode's ranking for one query (computed from one embedding and one BM25 pass)."""

    vector: list[tuple[str, float]]
    bm25: list[tuple[str, float]]
    fused: dict[str, list[tuple[str, float]]] = field(default_factory=dict)

    def ranked(self, mode: RetrievalMode) -> list[tuple[str, float]]:
        if mode == "vector":
            return self.vector
        if mode == "bm25":
            return self.bm25
        return self.fused[mode]

    @property
    def best_cosine(self) -> float | None:
        return self.vector[0][1] if self.vector else None


class KnowledgeBase:
    """One collection: see the module docstring. Create with :func:`open_knowledge_base`."""

    def __init__(
        self, settings: RagSettings, embedder: Embedder, docstore: DocStore | None = None
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.docstore = docstore or DocStore(settings.docstore_path())
        self.keyword = KeywordIndex(self.docstore)
        self.chunker = Chunker(
            load_counter(settings.tokenizer_path),
            settings.max_chunk_tokens,
            settings.chunk_overlap_tokens,
        )
        self._store: VectorStore | None = None
        self._store_lock = asyncio.Lock()

    async def store(self) -> VectorStore:
        """The vector store, opened on first use (its dimensions come from the embedder)."""
        async with self._store_lock:
            if self._store is None:
                dims = self.docstore.dimensions()
                if dims is None:
                    dims = len((await self.embedder.embed(["dimensions probe"]))[0])
                    self.docstore.set_dimensions(dims)
                self._store = await asyncio.to_thread(open_store, self.settings, dims)
            return self._store

    async def aclose(self) -> None:
        if self._store is not None:
            self._store.close()
        self.docstore.close()
        await self.embedder.aclose()

    # -- retrieval -----------------------------------------------------------------------

    async def retrieve(
        self,
        query: str,
        *,
        k: int = 5,
        mode: RetrievalMode = "hybrid",
        filters: Metadata | None = None,
    ) -> list[Hit]:
        ranking = await self.rank(query, filters=filters, modes=(mode,))
        return self.hits(ranking, mode, k)

    async def rank(
        self,
        query: str,
        *,
        filters: Metadata | None = None,
        modes: tuple[RetrievalMode, ...] = MODES,
    ) -> Ranking:
        """Candidates of each method and their fusions for ``query``."""
        if not query.strip():
            raise InvalidRequestError("the query is empty", param="query")
        for mode in modes:
            if mode not in MODES:
                raise InvalidRequestError(f"unknown mode {mode!r} (one of {MODES})", param="mode")
        filters = validate_filters(filters)
        n = self.settings.candidates
        need_vector = any(m != "bm25" for m in modes)
        need_bm25 = any(m != "vector" for m in modes)
        vector: list[tuple[str, float]] = []
        bm25: list[tuple[str, float]] = []
        if need_vector:
            (qv,) = await self.embedder.embed([query])
            store = await self.store()
            vector = self._visible(await asyncio.to_thread(store.search, qv, n, filters))
        if need_bm25:
            bm25 = await asyncio.to_thread(self.keyword.search, query, n, filters)
        ranking = Ranking(vector, bm25)
        if "rrf" in modes:
            ranking.fused["rrf"] = reciprocal_rank_fusion([vector, bm25], self.settings.rrf_k)
        if "hybrid" in modes or "weighted" in modes:
            fused = weighted_fusion(vector, bm25, self.settings.weighted_alpha)
            ranking.fused["hybrid"] = ranking.fused["weighted"] = fused
        return ranking

    def hits(self, ranking: Ranking, mode: RetrievalMode, k: int) -> list[Hit]:
        ranked = ranking.ranked(mode)[:k]
        vec, kw = dict(ranking.vector), dict(ranking.bm25)
        out = []
        for hit in self.docstore.hits(ranked):
            scores = {}
            if hit.chunk_id in vec:
                scores["vector"] = vec[hit.chunk_id]
            if hit.chunk_id in kw:
                scores["bm25"] = kw[hit.chunk_id]
            out.append(_with_scores(hit, scores))
        return out

    def _visible(self, pairs: list[tuple[str, float]]) -> list[tuple[str, float]]:
        visible = {h.chunk_id for h in self.docstore.hits(pairs)}
        return [p for p in pairs if p[0] in visible]


def _with_scores(hit: Hit, scores: dict[str, float]) -> Hit:
    return Hit(
        hit.chunk_id,
        hit.doc_id,
        hit.source,
        hit.position,
        hit.start,
        hit.end,
        hit.text,
        hit.score,
        hit.metadata,
        scores,
    )


def open_knowledge_base(settings: RagSettings, tracer: Tracer | None = None) -> KnowledgeBase:
    """A knowledge base for ``settings`` (opens the docstore; the store opens on first use);
    its embedding requests are spans of ``tracer``."""
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    embedder = Embedder(
        settings.embedding_base_url,
        settings.embedding_model,
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        batch_size=settings.embed_batch_size,
        concurrency=settings.embed_concurrency,
        timeout=settings.request_timeout,
        tracer=tracer,
    )
    return KnowledgeBase(settings, embedder)
