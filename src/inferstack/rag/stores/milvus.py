"""Milvus through pymilvus' ``MilvusClient``: Milvus Lite (a local ``.db`` file, in-process) or
a Milvus server (``http://host:19530``; ``milvus-lite server`` runs one on 127.0.0.1)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from inferstack.rag.stores.base import BUILTIN_FILTER_KEYS, VectorStore
from inferstack.rag.types import Chunk, Metadata

__all__ = ["MilvusStore", "milvus_filter"]

_PAGE = 1000


def milvus_filter(filters: Metadata) -> str:
    """A Milvus boolean expression for equality filters (keys were validated)."""
    terms = []
    for key, value in filters.items():
        field = key if key in BUILTIN_FILTER_KEYS else f'meta["{key}"]'
        literal = ("true" if value else "false") if isinstance(value, bool) else json.dumps(value)
        terms.append(f"{field} == {literal}")
    return " and ".join(terms)


_LOOPBACK_KEEPALIVE = {"grpc.keepalive_time_ms": 360_000, "grpc.keepalive_permit_without_calls": 0}
"""gRPC keepalive for a Milvus Lite server on this machine. pymilvus pings every 10 s, even
without calls; Milvus Lite's server keeps gRPC's default policy (at most one ping per 5 min
without data), so an idle client collects strikes, is sent GOAWAY ``too_many_pings`` and its
next call fails to reconnect. On loopback a dead peer shows as a reset, not a silent drop, so
pings past that policy's interval lose nothing."""


def _client_options(uri: str) -> dict[str, Any]:
    """``MilvusClient`` options for ``uri``: the relaxed keepalive on a local file or a loopback
    server (the Milvus Lite cases), pymilvus' own defaults for any other server."""
    remote = uri.startswith(("http://", "https://"))
    if remote and urlsplit(uri).hostname not in ("127.0.0.1", "localhost", "::1"):
        return {}
    return {"grpc_options": dict(_LOOPBACK_KEEPALIVE)}


class MilvusStore(VectorStore):
    def __init__(self, uri: str, collection: str, dimensions: int, token: str | None = None):
        super().__init__()
        from pymilvus import MilvusClient

        self.uri = uri
        self.name = "milvus-lite" if not uri.startswith(("http://", "https://")) else "milvus"
        self.client = MilvusClient(uri=uri, token=token or "", **_client_options(uri))
        self.collection = collection
        self.dimensions = dimensions
        if not self.client.has_collection(collection):
            self._create()
        # NOTE: a collection reopened from disk starts released; searches need it loaded.
        self.client.load_collection(collection)

    def _create(self) -> None:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=128)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=4096)
        schema.add_field("source", DataType.VARCHAR, max_length=4096)
        schema.add_field("meta", DataType.JSON)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimensions)
        index = self.client.prepare_index_params()
        index.add_index(field_name="vector", index_type="AUTOINDEX", metric_type="COSINE")
        self.client.create_collection(self.collection, schema=schema, index_params=index)

    def _upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        rows = [
            {
                "id": c.chunk_id,
                "doc_id": c.doc_id,
                "source": c.source,
                "meta": c.metadata,
                "vector": list(v),
            }
            for c, v in zip(chunks, vectors, strict=True)
        ]
        self.client.upsert(self.collection, rows)

    def _delete(self, ids: Sequence[str]) -> None:
        self.client.delete(self.collection, ids=list(ids))

    def _search(
        self, vector: Sequence[float], k: int, filters: Metadata
    ) -> list[tuple[str, float]]:
        kwargs: dict[str, Any] = {"limit": k, "output_fields": ["id"]}
        if filters:
            kwargs["filter"] = milvus_filter(filters)
        result = self.client.search(self.collection, [list(vector)], **kwargs)
        return [(hit["id"], float(hit["distance"])) for hit in result[0]]

    def ids(self) -> set[str]:
        out: set[str] = set()
        iterator = self.client.query_iterator(
            self.collection, batch_size=_PAGE, filter='id != ""', output_fields=["id"]
        )
        while True:
            page = iterator.next()
            if not page:
                iterator.close()
                return out
            out.update(row["id"] for row in page)

    def count(self) -> int:
        rows = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def flush(self) -> None:
        self.client.flush(self.collection)

    def close(self) -> None:
        self.client.close()
        if self.name == "milvus-lite":
            # NOTE: Milvus Lite keeps its in-process server (and the data folder's lock) until
            # the process exits; release it so another process (the next ingest) can open it.
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(self.uri)

    def drop(self) -> None:
        self.client.drop_collection(self.collection)
