"""Request and response bodies of the RAG HTTP API (``/v1/rag/...``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from inferstack.rag.retriever import RetrievalMode

__all__ = ["DocumentIn", "IngestRequest", "QueryRequest", "RetrieveRequest"]

Scalar = str | int | float | bool


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RetrieveRequest(_Body):
    query: str = Field(min_length=1, max_length=8192, description="What to look for.")
    k: int = Field(5, ge=1, le=100, description="How many chunks to return.")
    mode: RetrievalMode = Field(
        "hybrid", description="vector, bm25, hybrid (default), rrf or weighted."
    )
    filters: dict[str, Scalar] | None = Field(None, description="Metadata equality filters.")


class QueryRequest(_Body):
    query: str = Field(min_length=1, max_length=8192, description="The question.")
    k: int | None = Field(None, ge=1, le=20, description="Chunks given to the model.")
    mode: RetrievalMode = Field("hybrid", description="Retrieval mode.")
    filters: dict[str, Scalar] | None = Field(None, description="Metadata equality filters.")
    max_tokens: int | None = Field(None, ge=1, le=4096, description="Answer budget.")
    stream: bool = Field(False, description="Server-sent events: citations, deltas, done.")


class DocumentIn(_Body):
    id: str = Field(min_length=1, max_length=1024, description="Stable document id.")
    text: str = Field(max_length=10_000_000, description="The document's text.")
    source: str | None = Field(None, max_length=4096, description="Where it came from.")
    metadata: dict[str, Scalar] = Field(default_factory=dict, description="Filterable fields.")


class IngestRequest(_Body):
    documents: list[DocumentIn] = Field(default_factory=list, max_length=10_000)
    remove: list[str] = Field(default_factory=list, max_length=10_000, description="Doc ids.")
