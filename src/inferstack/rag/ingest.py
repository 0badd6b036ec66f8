"""Ingestion: read → chunk → diff against the docstore → embed → write, crash-consistently.

For each document the docstore is consulted first: an unchanged, committed document costs no
write at all. A changed one is re-chunked; chunks whose id (position + content hash) is already
committed are kept, new ones are embedded, vanished ones are deleted. Documents of the given
paths that no longer exist are removed. Work is applied in groups (``write_group_chunks``):

1. embed the group's new chunks (a failure is pinned to its document and chunk; that document
   is left untouched and reported, the others go on);
2. ``docstore.begin`` → vector store upsert + delete + flush → ``docstore.commit``.

See :mod:`inferstack.rag.docstore` for why a crash at any point is finished by running again.
Before starting, the store's row count is checked against the docstore; a store that lost rows
(or holds rows the docstore never recorded) is reconciled id by id.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferstack.rag.docstore import COMMITTED, PENDING, Plan
from inferstack.rag.retrieve import KnowledgeBase
from inferstack.rag.sources import ReadOptions, discover, read_file
from inferstack.rag.stores import VectorStore
from inferstack.rag.types import Document

__all__ = ["IngestReport", "ingest_documents", "ingest_paths"]

logger = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one ingest run did."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    recovered: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_deleted: int = 0
    store_writes: int = 0
    docstore_writes: int = 0
    reconciled: int = 0
    seconds: float = 0.0

    @property
    def chunks_per_s(self) -> float:
        return self.chunks_embedded / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["chunks_per_s"] = round(self.chunks_per_s, 1)
        out["seconds"] = round(self.seconds, 3)
        return out

    def summary(self) -> str:
        line = (
            f"added {self.added}, updated {self.updated}, removed {self.removed}, "
            f"unchanged {self.unchanged}"
        )
        if self.recovered:
            line += f", recovered {self.recovered}"
        if self.failed:
            line += f", failed {len(self.failed)}"
        return (
            f"{line}; {self.chunks_embedded} chunks embedded, {self.chunks_deleted} deleted, "
            f"{self.store_writes} store writes in {self.seconds:.1f} s"
        )


Progress = Callable[[int], None]


class _Run:
    def __init__(self, kb: KnowledgeBase, store: VectorStore, progress: Progress | None) -> None:
        self.kb = kb
        self.store = store
        self.progress = progress or (lambda _n: None)
        self.report = IngestReport()
        self.group: list[Plan] = []
        self.group_chunks = 0
        self.seen: set[str] = set()
        self._writes0 = (store.ops.writes, kb.docstore.writes)

    async def add(self, doc: Document) -> None:
        self.seen.add(doc.doc_id)
        plan = self.plan(doc)
        if plan is None:
            self.report.unchanged += 1
            self.progress(1)
            return
        self.group.append(plan)
        self.group_chunks += len(plan.new)
        if self.group_chunks >= self.kb.settings.write_group_chunks:
            await self.flush()

    def plan(self, doc: Document) -> Plan | None:
        docstore = self.kb.docstore
        record = docstore.document(doc.doc_id)
        if record is not None and record.state == COMMITTED and record.hash == doc.hash:
            return None
        chunks = self.kb.chunker.chunk(doc)
        states = docstore.chunk_states(doc.doc_id)
        target = {c.chunk_id for c in chunks}
        new = [c for c in chunks if states.get(c.chunk_id) != COMMITTED]
        doomed = [i for i in states if i not in target]
        if record is None:
            kind = "added"
        elif record.state == PENDING:
            kind = "recovered"
        else:
            kind = "updated"
        return Plan(doc.doc_id, doc.source, doc.hash, chunks, new, doomed, kind)

    def removal(self, doc_id: str, source: str) -> Plan:
        doomed = list(self.kb.docstore.chunk_states(doc_id))
        return Plan(doc_id, source, "", [], [], doomed, "removed")

    async def flush(self) -> None:
        group, self.group, self.group_chunks = self.group, [], 0
        if not group:
            return
        items = [(f"{p}/{c.position}", c.text) for p, plan in enumerate(group) for c in plan.new]
        vectors, failures = await self.kb.embedder.embed_labelled(items)
        bad: dict[int, str] = {}
        for failure in failures:
            p, position = failure.label.split("/")
            plan = group[int(p)]
            bad.setdefault(int(p), failure.error)
            self.report.failed.append(
                {
                    "doc_id": plan.doc_id,
                    "source": plan.source,
                    "chunk": int(position),
                    "error": failure.error,
                }
            )
            logger.error(
                "embedding failed for %s chunk %s: %s", plan.doc_id, position, failure.error
            )
        ok = [plan for p, plan in enumerate(group) if p not in bad]
        chunks = [c for p, plan in enumerate(group) if p not in bad for c in plan.new]
        vecs = [
            vectors[f"{p}/{c.position}"]
            for p, plan in enumerate(group)
            if p not in bad
            for c in plan.new
        ]
        await asyncio.to_thread(self._write, ok, chunks, vecs)
        for plan in ok:
            setattr(self.report, plan.kind, getattr(self.report, plan.kind) + 1)
        self.report.chunks_embedded += len(chunks)
        self.report.chunks_deleted += sum(len(plan.doomed) for plan in ok)
        self.progress(len(group))

    def _write(self, plans: list[Plan], chunks: list[Any], vectors: list[list[float]]) -> None:
        if not plans:
            return
        docstore = self.kb.docstore
        docstore.begin(plans)
        self.store.upsert(chunks, vectors)
        self.store.delete([i for plan in plans for i in plan.doomed])
        self.store.flush()
        docstore.commit(plans)

    def finish(self, started: float) -> IngestReport:
        report = self.report
        report.store_writes = self.store.ops.writes - self._writes0[0]
        report.docstore_writes = self.kb.docstore.writes - self._writes0[1]
        report.seconds = time.monotonic() - started
        return report


async def ingest_paths(
    kb: KnowledgeBase,
    paths: Iterable[Path],
    options: ReadOptions | None = None,
    *,
    prune: bool = True,
    verify: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest files and folders; with ``prune``, documents from these paths that disappeared
    are removed."""
    options = options or ReadOptions()
    roots = [p.resolve() for p in paths]
    files = discover(roots)
    run = await _start(kb, progress, verify)
    started = time.monotonic()
    for path in files:
        for doc in read_file(path, options):
            await run.add(doc)
    await run.flush()
    if prune:
        for record in kb.docstore.documents():
            if record.doc_id not in run.seen and _under(record.source, roots):
                run.group.append(run.removal(record.doc_id, record.source))
        await run.flush()
    return run.finish(started)


async def ingest_documents(
    kb: KnowledgeBase,
    docs: Iterable[Document],
    *,
    remove: Iterable[str] = (),
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest documents given directly (the HTTP endpoint); ``remove`` lists doc ids to drop."""
    run = await _start(kb, progress, verify=False)
    started = time.monotonic()
    for doc in docs:
        await run.add(doc)
    await run.flush()
    for doc_id in remove:
        record = kb.docstore.document(doc_id)
        if record is not None:
            run.group.append(run.removal(doc_id, record.source))
    await run.flush()
    return run.finish(started)


async def _start(kb: KnowledgeBase, progress: Progress | None, verify: bool) -> _Run:
    store = await kb.store()
    run = _Run(kb, store, progress)
    run.report.reconciled = await asyncio.to_thread(_reconcile, kb, store, verify)
    return run


def _reconcile(kb: KnowledgeBase, store: VectorStore, force: bool) -> int:
    """Compare store and docstore; fix what a crash or a lossy store left behind."""
    counts = kb.docstore.counts()
    held = store.count()
    if not force and counts[COMMITTED] <= held <= counts[COMMITTED] + counts[PENDING]:
        return 0
    ids = store.ids()
    known = kb.docstore.chunk_ids()
    orphans = sorted(ids - known)
    missing = kb.docstore.chunk_ids(COMMITTED) - ids
    if orphans:
        store.delete(orphans)
        store.flush()
    if missing:
        kb.docstore.mark_missing(missing)
    if orphans or missing:
        logger.warning(
            "reconciled the store: %d orphan vectors deleted, %d missing chunks to re-embed",
            len(orphans),
            len(missing),
        )
    return len(orphans) + len(missing)


def _under(source: str, roots: list[Path]) -> bool:
    for root in roots:
        text = str(root)
        if source == text or source.startswith(text + os.sep):
            return True
    return False
