"""PostgreSQL + pgvector (psycopg 3): one table per collection, an HNSW cosine index, metadata
as ``jsonb`` filtered by containment (``metadata @> '{"k": v}'``, typed equality)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from inferstack.rag.stores.base import BUILTIN_FILTER_KEYS, VectorStore
from inferstack.rag.types import Chunk, Metadata

__all__ = ["PgVectorStore"]


class PgVectorStore(VectorStore):
    name = "pgvector"

    def __init__(self, uri: str, collection: str, dimensions: int) -> None:
        super().__init__()
        import psycopg
        from pgvector.psycopg import register_vector

        self.table = collection
        self.dimensions = dimensions
        self.conn = psycopg.connect(uri, autocommit=True)
        self.conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(self.conn)
        self.conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} (id text PRIMARY KEY, doc_id text NOT NULL, "
            f"source text NOT NULL, metadata jsonb NOT NULL, embedding vector({dimensions}))"
        )
        self.conn.execute(
            f"CREATE INDEX IF NOT EXISTS {self.table}_hnsw ON {self.table} "
            "USING hnsw (embedding vector_cosine_ops)"
        )
        self.conn.execute(
            f"CREATE INDEX IF NOT EXISTS {self.table}_meta ON {self.table} USING gin (metadata)"
        )

    def _upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        import numpy as np

        rows = [
            (c.chunk_id, c.doc_id, c.source, json.dumps(c.metadata), np.asarray(v, np.float32))
            for c, v in zip(chunks, vectors, strict=True)
        ]
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {self.table} VALUES (%s, %s, %s, %s::jsonb, %s) ON CONFLICT (id) DO "
                "UPDATE SET doc_id = excluded.doc_id, source = excluded.source, "
                "metadata = excluded.metadata, embedding = excluded.embedding",
                rows,
            )

    def _delete(self, ids: Sequence[str]) -> None:
        self.conn.execute(f"DELETE FROM {self.table} WHERE id = ANY(%s)", (list(ids),))

    def _search(
        self, vector: Sequence[float], k: int, filters: Metadata
    ) -> list[tuple[str, float]]:
        import numpy as np

        where, params = [], []
        meta = {key: v for key, v in filters.items() if key not in BUILTIN_FILTER_KEYS}
        for key in BUILTIN_FILTER_KEYS:
            if key in filters:
                where.append(f"{key} = %s")
                params.append(str(filters[key]))
        if meta:
            where.append("metadata @> %s::jsonb")
            params.append(json.dumps(meta))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        query = np.asarray(vector, np.float32)
        sql = (
            f"SELECT id, 1 - (embedding <=> %s) FROM {self.table} {clause} "
            "ORDER BY embedding <=> %s LIMIT %s"
        )
        args: list[Any] = [query, *params, query, k]
        rows = self.conn.execute(sql, args).fetchall()
        return [(r[0], float(r[1])) for r in rows]

    def ids(self) -> set[str]:
        return {r[0] for r in self.conn.execute(f"SELECT id FROM {self.table}")}

    def count(self) -> int:
        row = self.conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.conn.close()

    def drop(self) -> None:
        self.conn.execute(f"DROP TABLE IF EXISTS {self.table}")
