"""Retrieval evaluation on questions with their source passages (``inferstack rag eval``).

The passages become the corpus (one document per distinct passage, ingested through the normal
pipeline, so chunking is part of what is measured); each question's relevant document is its
own passage. Rankings are over documents: a document's rank is that of its best chunk.

Reported per mode (vector, BM25, RRF, and weighted score fusion as ``hybrid`` at the
configured ``weighted_alpha``): recall@1/5/10 (a single relevant document, so recall@k is the
hit rate), MRR@10 and nDCG@10; plus ingestion throughput beside the embedding endpoint's own
rate, and hybrid query latency at 1 and 8 concurrent queries beside the query embedding's.
``weighted`` uses the vector weight that maximises MRR on the even-numbered questions (a grid
of 0.0 to 1.0 by 0.05), then is scored on all of them like the others.
"""

from __future__ import annotations

import asyncio
import csv
import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferstack.errors import InvalidRequestError
from inferstack.rag.fusion import weighted_fusion
from inferstack.rag.ingest import ingest_documents
from inferstack.rag.retrieve import KnowledgeBase, Ranking
from inferstack.rag.types import Document, content_hash

__all__ = ["EvalSet", "evaluate", "format_table", "load_eval_set", "rank_metrics"]

KS = (1, 5, 10)
MODES = ("vector", "bm25", "rrf", "hybrid", "weighted")
"""``hybrid`` at the configured ``weighted_alpha``; ``weighted`` at the alpha tuned here."""


@dataclass
class EvalSet:
    documents: list[Document]
    questions: list[tuple[str, str]]
    """(question, relevant doc id)."""


def load_eval_set(
    path: Path,
    question_field: str = "question",
    context_field: str = "context",
    limit: int | None = None,
) -> EvalSet:
    csv.field_size_limit(sys.maxsize)
    source = str(path.resolve())
    docs: dict[str, Document] = {}
    questions: list[tuple[str, str]] = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        for field in (question_field, context_field):
            if field not in (reader.fieldnames or []):
                raise InvalidRequestError(
                    f"{path} has no column {field!r} (has {reader.fieldnames})", param="file"
                )
        for row in reader:
            context, question = row[context_field].strip(), row[question_field].strip()
            if not context or not question:
                continue
            doc_id = f"{source}#passage={content_hash(context)[:16]}"
            docs.setdefault(doc_id, Document(doc_id, source, context, {}))
            questions.append((question, doc_id))
            if limit and len(questions) >= limit:
                break
    return EvalSet(list(docs.values()), questions)


def rank_metrics(ranked_docs: Sequence[str], relevant: str) -> dict[str, float]:
    """recall@k, MRR@10 and nDCG@10 for one query with one relevant document."""
    rank = ranked_docs.index(relevant) + 1 if relevant in ranked_docs else None
    out = {f"recall@{k}": float(rank is not None and rank <= k) for k in KS}
    out["mrr"] = 1.0 / rank if rank is not None and rank <= 10 else 0.0
    out["ndcg@10"] = 1.0 / math.log2(rank + 1) if rank is not None and rank <= 10 else 0.0
    return out


def _docs(ranked: Sequence[tuple[str, float]], chunk_doc: dict[str, str]) -> list[str]:
    seen: list[str] = []
    for chunk_id, _ in ranked:
        doc = chunk_doc.get(chunk_id)
        if doc is not None and doc not in seen:
            seen.append(doc)
            if len(seen) == 10:
                break
    return seen


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.fmean(r[key] for r in rows) for key in rows[0]} if rows else {}


def _tune_alpha(rankings: list[Ranking], relevant: list[str], chunk_doc: dict[str, str]) -> float:
    best, best_mrr = 0.5, -1.0
    dev = range(0, len(rankings), 2)
    for step in range(21):
        alpha = step / 20
        mrr = statistics.fmean(
            rank_metrics(
                _docs(weighted_fusion(rankings[i].vector, rankings[i].bm25, alpha), chunk_doc),
                relevant[i],
            )["mrr"]
            for i in dev
        )
        if mrr > best_mrr:
            best, best_mrr = alpha, mrr
    return best


async def _latency(
    kb: KnowledgeBase, queries: list[str], concurrency: int, *, embed_only: bool = False
) -> dict[str, float]:
    """p50/p99 of hybrid retrieval (or, as its peer, of the query embedding call alone)."""
    limit = asyncio.Semaphore(concurrency)
    times: list[float] = []

    async def one(q: str) -> None:
        async with limit:
            t0 = time.perf_counter()
            if embed_only:
                await kb.embedder.embed([q])
            else:
                await kb.retrieve(q, k=10, mode="hybrid")
            times.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(one(q) for q in queries))
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p99_ms": round(times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)], 1),
    }


async def _embed_only_rate(kb: KnowledgeBase, texts: list[str]) -> float:
    """Chunks/s of the embedding endpoint alone on ingested chunks: ingestion's peer."""
    t0 = time.perf_counter()
    await kb.embedder.embed(texts)
    return len(texts) / (time.perf_counter() - t0)


async def evaluate(
    kb: KnowledgeBase, data: EvalSet, *, latency_queries: int = 100, concurrency: int = 8
) -> dict[str, Any]:
    """Ingest ``data``'s passages into ``kb``, rank every question, return the flat figures."""
    report = await ingest_documents(kb, data.documents)
    if report.failed:
        raise InvalidRequestError(f"{len(report.failed)} passages failed to embed", param="file")
    chunk_doc = {cid: doc for cid, doc, _s, _t, _m in kb.docstore.committed_chunks()}
    limit = asyncio.Semaphore(concurrency)

    async def rank(q: str) -> Ranking:
        async with limit:
            return await kb.rank(q, modes=("vector", "bm25", "rrf", "hybrid"))

    rankings = await asyncio.gather(*(rank(q) for q, _ in data.questions))
    relevant = [doc for _, doc in data.questions]
    alpha = _tune_alpha(rankings, relevant, chunk_doc)
    sample = [text for _c, _d, _s, text, _m in kb.docstore.committed_chunks()][:128]
    peer = await _embed_only_rate(kb, sample)
    ingested = report.chunks_embedded > 0  # an already ingested corpus re-ingests nothing
    out: dict[str, Any] = {
        "questions": len(data.questions),
        "documents": len(data.documents),
        "chunks": len(chunk_doc),
        "ingest.chunks_per_s": round(report.chunks_per_s, 1) if ingested else None,
        "ingest.seconds": round(report.seconds, 2),
        "ingest.embed_only_chunks_per_s": round(peer, 1),
        "ingest.ratio_to_embed_only": round(report.chunks_per_s / peer, 3) if ingested else None,
        "weighted.alpha": alpha,
        "hybrid.alpha": kb.settings.weighted_alpha,
    }
    for mode in MODES:
        rows = []
        for ranking, rel in zip(rankings, relevant, strict=True):
            ranked = (
                weighted_fusion(ranking.vector, ranking.bm25, alpha)
                if mode == "weighted"
                else ranking.ranked(mode)  # type: ignore[arg-type]
            )
            rows.append(rank_metrics(_docs(ranked, chunk_doc), rel))
        for key, value in _mean(rows).items():
            out[f"{mode}.{key}"] = round(value, 4)
    queries = [q for q, _ in data.questions[:latency_queries]]
    for c in (1, concurrency):
        for key, value in (await _latency(kb, queries, c)).items():
            out[f"latency.c{c}.{key}"] = value
        for key, value in (await _latency(kb, queries, c, embed_only=True)).items():
            out[f"latency.c{c}.embed_{key}"] = value
    return out


def format_table(figures: dict[str, Any]) -> str:
    cols = ["recall@1", "recall@5", "recall@10", "mrr", "ndcg@10"]
    lines = [
        f"{figures['questions']} questions, {figures['documents']} passages, "
        f"{figures['chunks']} chunks",
        "",
        f"| mode | {' | '.join(cols)} |",
        "|---|" + "---|" * len(cols),
    ]
    for mode in MODES:
        name = {
            "rrf": "hybrid: RRF",
            "hybrid": f"hybrid: weighted, alpha={figures['hybrid.alpha']} (default)",
            "weighted": f"hybrid: weighted, alpha={figures['weighted.alpha']} (tuned here)",
        }.get(mode, mode)
        lines.append(
            f"| {name} | " + " | ".join(f"{figures[f'{mode}.{c}']:.3f}" for c in cols) + " |"
        )
    lines += [
        "",
        f"ingestion: {figures['ingest.chunks_per_s']} chunks/s ({figures['ingest.seconds']} s); "
        f"the embedding endpoint alone: {figures['ingest.embed_only_chunks_per_s']} chunks/s "
        f"(ratio {figures['ingest.ratio_to_embed_only']})",
    ]
    lat = {k: v for k, v in figures.items() if k.startswith("latency.")}
    conc = sorted({k.split(".")[1] for k in lat})
    for c in conc:
        lines.append(
            f"hybrid query latency at {c[1:]} concurrent: p50 {lat[f'latency.{c}.p50_ms']} ms, "
            f"p99 {lat[f'latency.{c}.p99_ms']} ms (the query embedding alone: p50 "
            f"{lat[f'latency.{c}.embed_p50_ms']} ms, p99 {lat[f'latency.{c}.embed_p99_ms']} ms)"
        )
    return "\n".join(lines)
