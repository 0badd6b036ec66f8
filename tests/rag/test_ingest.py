"""Ingestion on real stores with a deterministic embedding endpoint: idempotent re-ingest,
changes, deletions, failures pinned to a chunk, and crashes finished by the next run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from inferstack.rag.ingest import ingest_paths
from inferstack.rag.retrieve import KnowledgeBase
from inferstack.rag.stores import VectorStore
from rag.conftest import FakeEmbeddings, make_kb, make_settings


def write_corpus(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "alpha.md").write_text(
        "# Alpha\n\nThe alpha reactor runs on helium pellets.\n\n## Care\n\n"
        + " ".join(f"Alpha maintenance step {i} keeps the reactor calm." for i in range(60))
    )
    (root / "beta.txt").write_text("Beta station orbits Titan. Its crew is twelve people.\n")
    (root / "gamma.csv").write_text(
        'id,question,answer\n1,"Who built gamma?","Gamma was built by\nthe Orion guild."\n'
        "2,Where is gamma?,Gamma lies in the Vela sector.\n"
    )


def consistent(kb: KnowledgeBase, store: VectorStore) -> None:
    """Store, docstore and keyword index hold exactly the same chunks, none pending."""
    counts = kb.docstore.counts()
    assert counts["pending"] == 0
    ids = kb.docstore.chunk_ids("committed")
    assert store.ids() == ids
    assert store.count() == len(ids)
    assert all(r.state == "committed" for r in kb.docstore.documents())


@pytest.fixture
def kb(tmp_path: Path, store_kind: str, store_servers: dict[str, str], fake_embeddings):
    settings = make_settings(tmp_path, store_kind, store_servers, write_group_chunks=5)
    kb = make_kb(settings, fake_embeddings)
    yield kb
    store = asyncio.run(kb.store()) if kb._store is None else kb._store
    store.drop()
    asyncio.run(kb.aclose())


async def test_reingest_unchanged_writes_nothing(
    kb: KnowledgeBase, tmp_path: Path, fake_embeddings: FakeEmbeddings
) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    first = await ingest_paths(kb, [corpus])
    assert (first.added, first.unchanged, first.failed) == (4, 0, [])
    assert first.chunks_embedded > 4  # alpha.md needs several chunks
    store = await kb.store()
    consistent(kb, store)
    requests = len(fake_embeddings.requests)
    second = await ingest_paths(kb, [corpus])
    assert (second.added, second.updated, second.removed, second.unchanged) == (0, 0, 0, 4)
    assert second.store_writes == 0
    assert second.docstore_writes == 0
    assert second.chunks_embedded == 0
    assert len(fake_embeddings.requests) == requests
    consistent(kb, store)


async def test_change_replaces_only_that_documents_changed_chunks(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    await ingest_paths(kb, [corpus])
    before = kb.docstore.chunk_ids("committed")
    beta = str((corpus / "beta.txt").resolve())
    old_beta = set(kb.docstore.chunk_states(beta))
    (corpus / "beta.txt").write_text("Beta station orbits Enceladus now. Its crew is nine.\n")
    report = await ingest_paths(kb, [corpus])
    assert (report.updated, report.unchanged) == (1, 3)
    new_beta = set(kb.docstore.chunk_states(beta))
    assert old_beta.isdisjoint(new_beta)
    assert kb.docstore.chunk_ids("committed") == (before - old_beta) | new_beta
    assert report.store_writes == len(old_beta) + len(new_beta)
    consistent(kb, await kb.store())
    hits = await kb.retrieve("Enceladus crew", k=1, mode="bm25")
    assert hits[0].doc_id == beta


async def test_appending_to_a_document_keeps_its_unchanged_chunks(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    await ingest_paths(kb, [corpus])
    alpha = str((corpus / "alpha.md").resolve())
    old = set(kb.docstore.chunk_states(alpha))
    with (corpus / "alpha.md").open("a") as f:
        f.write("\n\n## Appendix\n\nA new closing section about pellet storage.\n")
    report = await ingest_paths(kb, [corpus])
    new = set(kb.docstore.chunk_states(alpha))
    assert report.updated == 1
    assert len(old & new) == len(old)  # every earlier chunk kept its id
    assert report.chunks_embedded == len(new - old) == 1
    consistent(kb, await kb.store())


async def test_deleted_file_leaves_vectors_and_keyword_index(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    await ingest_paths(kb, [corpus])
    assert (await kb.retrieve("Titan crew twelve", k=1, mode="bm25"))[0].source.endswith("beta.txt")
    (corpus / "beta.txt").unlink()
    report = await ingest_paths(kb, [corpus])
    assert (report.removed, report.unchanged) == (1, 3)
    consistent(kb, await kb.store())
    for mode in ("vector", "bm25", "hybrid"):
        hits = await kb.retrieve("Titan crew twelve", k=10, mode=mode)
        assert all(not h.source.endswith("beta.txt") for h in hits)


async def test_embedding_failure_names_document_and_chunk(
    kb: KnowledgeBase, tmp_path: Path, fake_embeddings: FakeEmbeddings
) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    fake_embeddings.poison = "Orion guild"
    report = await ingest_paths(kb, [corpus])
    assert len(report.failed) == 1
    failure = report.failed[0]
    assert failure["doc_id"].endswith("gamma.csv#row=0")
    assert failure["chunk"] == 0
    assert "500" in failure["error"]
    assert report.added == 3
    consistent(kb, await kb.store())
    assert not any(d.doc_id.endswith("#row=0") for d in kb.docstore.documents())
    fake_embeddings.poison = None
    again = await ingest_paths(kb, [corpus])
    assert (again.added, again.unchanged, again.failed) == (1, 3, [])
    consistent(kb, await kb.store())


class Crash(Exception):
    pass


@pytest.mark.parametrize("point", ["after_begin", "after_upsert", "after_delete"])
async def test_crash_at_any_point_is_finished_by_the_next_run(
    kb: KnowledgeBase, tmp_path: Path, point: str
) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    await ingest_paths(kb, [corpus])
    (corpus / "beta.txt").write_text("Beta moved to Enceladus. " * 3)
    (corpus / "gamma.csv").unlink()
    (corpus / "delta.md").write_text("# Delta\n\nDelta depot stores spare pellets.")
    store = await kb.store()
    real = {"upsert": store.upsert, "delete": store.delete, "begin": kb.docstore.begin}

    def crash_after(name: str):
        def wrapped(*a, **k):
            real[name](*a, **k)
            raise Crash(name)

        return wrapped

    target = {"after_begin": "begin", "after_upsert": "upsert", "after_delete": "delete"}[point]
    owner = kb.docstore if target == "begin" else store
    setattr(owner, target, crash_after(target))
    with pytest.raises(Crash):
        await ingest_paths(kb, [corpus])
    setattr(owner, target, real[target])
    # Whatever is visible is whole: every visible chunk is in the store.
    visible = kb.docstore.chunk_ids("committed")
    assert visible <= store.ids()
    report = await ingest_paths(kb, [corpus])
    assert report.failed == []
    consistent(kb, store)
    sources = {Path(d.source).name for d in kb.docstore.documents()}
    assert sources == {"alpha.md", "beta.txt", "delta.md"}
    assert len({h.chunk_id for h in await kb.retrieve("Enceladus", k=50, mode="bm25")}) == 1


async def test_lost_vectors_are_reembedded(kb: KnowledgeBase, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    await ingest_paths(kb, [corpus])
    store = await kb.store()
    lost = sorted(store.ids())[:2]
    store.delete(lost)  # a store that lost writes (e.g. not flushed before a power cut)
    store.flush()
    report = await ingest_paths(kb, [corpus])
    assert report.reconciled == 2
    assert report.chunks_embedded == 2
    consistent(kb, store)
