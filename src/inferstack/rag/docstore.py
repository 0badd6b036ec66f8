"""The document store (SQLite): the record of what is ingested, and the source of truth.

Tables: ``documents`` (id, source, content hash, state) and ``chunks`` (id, document, position,
character span, text, metadata, state). Every change to a document goes through two
transactions around the vector-store writes::

    begin(plan)   document → pending; new chunk rows inserted pending; doomed rows → pending
    ...           vector store: upsert new chunks, delete doomed ids, flush
    commit(plan)  doomed rows deleted; new rows → committed; document → committed, new hash

Only ``committed`` chunks are visible to retrieval (vector hits are joined here; the keyword
index is built from here), so a crash between the steps never shows half a document. A chunk
row that is committed is always in the vector store; a pending one may or may not be, so the
next ingest re-embeds pending chunks and deletes pending doomed ids again (both idempotent):
the crash is finished by simply running again.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from inferstack.rag.types import Chunk, Hit

__all__ = ["DocRecord", "DocStore", "Plan"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
  doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, hash TEXT NOT NULL, state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source);
CREATE TABLE IF NOT EXISTS chunks (
  chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, source TEXT NOT NULL, position INTEGER NOT NULL,
  start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL, tokens INTEGER NOT NULL,
  metadata TEXT NOT NULL, state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('generation', '0');
"""

COMMITTED, PENDING = "committed", "pending"

F = TypeVar("F", bound=Callable[..., Any])


def _locked(method: F) -> F:
    """One connection shared by the event loop and worker threads: one call at a time."""

    @functools.wraps(method)
    def wrapper(self: DocStore, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class DocRecord:
    doc_id: str
    source: str
    hash: str
    state: str


@dataclass
class Plan:
    """What one document's change writes: chunks to add, ids to remove (``delete``: all)."""

    doc_id: str
    source: str
    hash: str
    chunks: list[Chunk]
    """The document's full new chunk list (empty when the document is removed)."""
    new: list[Chunk]
    """Chunks not yet committed in the vector store (to embed and upsert)."""
    doomed: list[str]
    """Chunk ids of this document that are no longer wanted."""
    kind: str
    """``added``, ``updated``, ``removed`` or ``recovered``."""

    @property
    def delete(self) -> bool:
        return self.kind == "removed"


class DocStore:
    """SQLite document store; see the module docstring. One writer at a time."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self.writes = 0
        """Rows written (inserted, updated, deleted) by this instance."""

    @_locked
    def close(self) -> None:
        self.db.close()

    # -- reading -------------------------------------------------------------------------

    @_locked
    def document(self, doc_id: str) -> DocRecord | None:
        row = self.db.execute(
            "SELECT doc_id, source, hash, state FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        return DocRecord(*row) if row else None

    @_locked
    def documents(self) -> list[DocRecord]:
        rows = self.db.execute("SELECT doc_id, source, hash, state FROM documents").fetchall()
        return [DocRecord(*r) for r in rows]

    @_locked
    def chunk_states(self, doc_id: str) -> dict[str, str]:
        rows = self.db.execute("SELECT chunk_id, state FROM chunks WHERE doc_id = ?", (doc_id,))
        return dict(rows.fetchall())

    @_locked
    def counts(self) -> dict[str, int]:
        """Chunk rows by state, and documents."""
        out = {COMMITTED: 0, PENDING: 0}
        for state, n in self.db.execute("SELECT state, count(*) FROM chunks GROUP BY state"):
            out[state] = n
        out["documents"] = self.db.execute("SELECT count(*) FROM documents").fetchone()[0]
        return out

    @_locked
    def chunk_ids(self, state: str | None = None) -> set[str]:
        if state is None:
            return {r[0] for r in self.db.execute("SELECT chunk_id FROM chunks")}
        rows = self.db.execute("SELECT chunk_id FROM chunks WHERE state = ?", (state,))
        return {r[0] for r in rows}

    @_locked
    def dimensions(self) -> int | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'dimensions'").fetchone()
        return int(row[0]) if row else None

    @_locked
    def set_dimensions(self, dims: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('dimensions', ?)", (str(dims),))

    @_locked
    def generation(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0])

    @_locked
    def hits(self, scored: Iterable[tuple[str, float]]) -> list[Hit]:
        """Committed chunks for (id, score) pairs, in the given order; others are dropped."""
        pairs = list(scored)
        if not pairs:
            return []
        ids = [p[0] for p in pairs]
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f'SELECT chunk_id, doc_id, source, position, start, "end", text, metadata '
            f"FROM chunks WHERE state = 'committed' AND chunk_id IN ({marks})",
            ids,
        ).fetchall()
        by_id = {r[0]: r for r in rows}
        out = []
        for chunk_id, score in pairs:
            r = by_id.get(chunk_id)
            if r is not None:
                out.append(Hit(r[0], r[1], r[2], r[3], r[4], r[5], r[6], score, json.loads(r[7])))
        return out

    def committed_chunks(self) -> Iterator[tuple[str, str, str, str, dict[str, Any]]]:
        """(chunk_id, doc_id, source, text, metadata) of every visible chunk, in id order."""
        with self._lock:
            rows = self.db.execute(
                "SELECT chunk_id, doc_id, source, text, metadata FROM chunks "
                "WHERE state = 'committed' ORDER BY chunk_id"
            ).fetchall()
        for r in rows:
            yield r[0], r[1], r[2], r[3], json.loads(r[4])

    # -- writing -------------------------------------------------------------------------

    @_locked
    def begin(self, plans: list[Plan]) -> None:
        """First transaction: mark the documents pending and record every id that the vector
        store is about to receive or lose."""
        with self._transaction() as db:
            for plan in plans:
                db.execute(
                    "INSERT INTO documents VALUES (?, ?, ?, 'pending') ON CONFLICT(doc_id) "
                    "DO UPDATE SET state = 'pending', source = excluded.source",
                    (plan.doc_id, plan.source, plan.hash),
                )
                db.executemany(
                    "INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                    [_row(c) for c in plan.new],
                )
                db.executemany(
                    "UPDATE chunks SET state = 'pending' WHERE chunk_id = ?",
                    [(i,) for i in plan.doomed],
                )
                self.writes += 1 + len(plan.new) + len(plan.doomed)

    @_locked
    def commit(self, plans: list[Plan]) -> None:
        """Second transaction: the vector store holds the new state; make it visible."""
        with self._transaction() as db:
            for plan in plans:
                db.executemany("DELETE FROM chunks WHERE chunk_id = ?", [(i,) for i in plan.doomed])
                if plan.delete:
                    db.execute("DELETE FROM documents WHERE doc_id = ?", (plan.doc_id,))
                else:
                    db.executemany(
                        "UPDATE chunks SET state = 'committed' WHERE chunk_id = ?",
                        [(c.chunk_id,) for c in plan.new],
                    )
                    db.execute(
                        "UPDATE documents SET state = 'committed', hash = ? WHERE doc_id = ?",
                        (plan.hash, plan.doc_id),
                    )
                self.writes += 1 + len(plan.new) + len(plan.doomed)
            db.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
            )

    @_locked
    def mark_missing(self, chunk_ids: set[str]) -> None:
        """Chunks the vector store lost: back to pending, with their documents, to re-embed."""
        with self._transaction() as db:
            for chunk_id in chunk_ids:
                db.execute("UPDATE chunks SET state = 'pending' WHERE chunk_id = ?", (chunk_id,))
                db.execute(
                    "UPDATE documents SET state = 'pending' WHERE doc_id = "
                    "(SELECT doc_id FROM chunks WHERE chunk_id = ?)",
                    (chunk_id,),
                )
            self.writes += 2 * len(chunk_ids)

    def _transaction(self) -> _Tx:
        return _Tx(self.db)


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _row(c: Chunk) -> tuple[object, ...]:
    return (
        c.chunk_id,
        c.doc_id,
        c.source,
        c.position,
        c.start,
        c.end,
        c.text,
        c.tokens,
        json.dumps(c.metadata, sort_keys=True),
    )
