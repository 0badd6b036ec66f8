"""The ``Retriever`` interface: what other packages (agents' knowledge MCP server, the RAG HTTP
service, ``inferstack ask``) program against.

Usage::

    from inferstack.rag import Retriever, Hit

    async def lookup(retriever: Retriever, question: str) -> list[Hit]:
        return await retriever.retrieve(question, k=5, mode="hybrid", filters={"lang": "en"})

``filters`` is an equality match on document metadata (plus the built-in keys ``source`` and
``doc_id``); every key must match. Hits come best first; each carries its source, chunk
position, character span, score and text. :class:`inferstack.rag.retrieve.KnowledgeBase` is
the implementation; build one with :func:`inferstack.rag.retrieve.open_knowledge_base`.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from inferstack.rag.types import Hit, Metadata

__all__ = ["RetrievalMode", "Retriever"]

RetrievalMode = Literal["vector", "bm25", "hybrid", "rrf", "weighted"]
"""``vector``: cosine over embeddings; ``bm25``: keyword (bm25s); ``rrf``: reciprocal rank fusion
of both; ``weighted`` and ``hybrid`` (the default): min-max normalised score fusion with the
tuned vector weight ``weighted_alpha``. Score fusion is the default because it beat RRF on
``rag eval`` (RRF drops BM25's score margins; see docs/rag.md)."""


@runtime_checkable
class Retriever(Protocol):
    """Finds the chunks most relevant to a query."""

    async def retrieve(
        self,
        query: str,
        *,
        k: int = 5,
        mode: RetrievalMode = "hybrid",
        filters: Metadata | None = None,
    ) -> list[Hit]:
        """The ``k`` best chunks for ``query``, best first, restricted by ``filters``."""
        ...
