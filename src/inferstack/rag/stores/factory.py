"""Backend name → store, from the settings (a table of constructors, not an ``if`` chain)."""

from __future__ import annotations

from collections.abc import Callable

from inferstack.rag.settings import RagSettings
from inferstack.rag.stores.base import VectorStore

__all__ = ["STORES", "open_store"]


def _milvus(settings: RagSettings, dims: int) -> VectorStore:
    from inferstack.rag.stores.milvus import MilvusStore

    uri = settings.resolved_store_uri()
    if settings.store == "milvus-lite":
        settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return MilvusStore(uri, settings.collection, dims)


def _pgvector(settings: RagSettings, dims: int) -> VectorStore:
    from inferstack.rag.stores.pgvector import PgVectorStore

    return PgVectorStore(settings.resolved_store_uri(), settings.collection, dims)


def _opensearch(settings: RagSettings, dims: int) -> VectorStore:
    from inferstack.rag.stores.opensearch import OpenSearchStore

    return OpenSearchStore(settings.resolved_store_uri(), settings.collection, dims)


STORES: dict[str, Callable[[RagSettings, int], VectorStore]] = {
    "milvus-lite": _milvus,
    "milvus": _milvus,
    "pgvector": _pgvector,
    "opensearch": _opensearch,
}


def open_store(settings: RagSettings, dimensions: int) -> VectorStore:
    return STORES[settings.store](settings, dimensions)
