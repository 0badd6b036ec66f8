"""OpenSearch (opensearch-py): a k-NN index (``knn_vector``, HNSW, cosine), bulk indexing and
filtered k-NN queries, in OpenSearch's documented mapping and query format.

OpenSearch reports cosine scores as ``(1 + cos) / 2``; :meth:`_search` returns the cosine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inferstack.rag.stores.base import BUILTIN_FILTER_KEYS, VectorStore
from inferstack.rag.types import Chunk, Metadata

__all__ = ["OpenSearchStore", "index_body", "knn_query"]


def index_body(dimensions: int) -> dict[str, Any]:
    """Index settings and mapping: k-NN on, one ``knn_vector`` field, keyword filter fields."""
    return {
        "settings": {"index": {"knn": True}},
        "mappings": {
            "dynamic_templates": [
                {
                    "metadata_strings": {
                        "path_match": "metadata.*",
                        "match_mapping_type": "string",
                        "mapping": {"type": "keyword"},
                    }
                }
            ],
            "properties": {
                "doc_id": {"type": "keyword"},
                "source": {"type": "keyword"},
                "metadata": {"type": "object"},
                "vector": {
                    "type": "knn_vector",
                    "dimension": dimensions,
                    "method": {"name": "hnsw", "space_type": "cosinesimil", "engine": "lucene"},
                },
            },
        },
    }


def knn_query(vector: Sequence[float], k: int, filters: Metadata) -> dict[str, Any]:
    """A k-NN query with equality filters applied inside the k-NN search (lucene engine)."""
    knn: dict[str, Any] = {"vector": list(vector), "k": k}
    terms = [
        {"term": {key if key in BUILTIN_FILTER_KEYS else f"metadata.{key}": value}}
        for key, value in filters.items()
    ]
    if terms:
        knn["filter"] = {"bool": {"filter": terms}}
    return {"size": k, "_source": False, "query": {"knn": {"vector": knn}}}


class OpenSearchStore(VectorStore):
    name = "opensearch"

    def __init__(self, uri: str, collection: str, dimensions: int, client: Any = None) -> None:
        super().__init__()
        if client is None:
            from opensearchpy import OpenSearch

            client = OpenSearch(hosts=[uri], timeout=60)
        self.client = client
        self.index = collection.lower()
        self.dimensions = dimensions
        if not self.client.indices.exists(index=self.index):
            self.client.indices.create(index=self.index, body=index_body(dimensions))

    def _upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        from opensearchpy import helpers

        actions = [
            {
                "_op_type": "index",
                "_index": self.index,
                "_id": c.chunk_id,
                "_source": {
                    "doc_id": c.doc_id,
                    "source": c.source,
                    "metadata": c.metadata,
                    "vector": list(v),
                },
            }
            for c, v in zip(chunks, vectors, strict=True)
        ]
        helpers.bulk(self.client, actions, raise_on_error=True)

    def _delete(self, ids: Sequence[str]) -> None:
        from opensearchpy import helpers

        actions = [{"_op_type": "delete", "_index": self.index, "_id": i} for i in ids]
        helpers.bulk(self.client, actions, raise_on_error=False, raise_on_exception=True)

    def _search(
        self, vector: Sequence[float], k: int, filters: Metadata
    ) -> list[tuple[str, float]]:
        body = knn_query(vector, k, filters)
        result = self.client.search(index=self.index, body=body)
        return [(h["_id"], 2.0 * float(h["_score"]) - 1.0) for h in result["hits"]["hits"]]

    def ids(self) -> set[str]:
        from opensearchpy import helpers

        query = {"query": {"match_all": {}}, "_source": False}
        return {h["_id"] for h in helpers.scan(self.client, index=self.index, query=query)}

    def count(self) -> int:
        return int(self.client.count(index=self.index)["count"])

    def flush(self) -> None:
        self.client.indices.refresh(index=self.index)

    def close(self) -> None:
        self.client.close()

    def drop(self) -> None:
        self.client.indices.delete(index=self.index, ignore_unavailable=True)
