"""rag eval: the metrics, and a whole run on a small question file with real stores."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from inferstack.errors import InvalidRequestError
from inferstack.rag.evaluation import evaluate, format_table, load_eval_set, rank_metrics
from rag.conftest import FakeEmbeddings, make_kb, make_settings


def test_rank_metrics_for_one_relevant_document() -> None:
    first = rank_metrics(["a", "b"], "a")
    assert first == {"recall@1": 1.0, "recall@5": 1.0, "recall@10": 1.0, "mrr": 1.0, "ndcg@10": 1.0}
    third = rank_metrics(["x", "y", "a"], "a")
    assert third["recall@1"] == 0.0 and third["recall@5"] == 1.0
    assert third["mrr"] == pytest.approx(1 / 3)
    assert third["ndcg@10"] == pytest.approx(1 / math.log2(4))
    assert rank_metrics(["x"], "a") == dict.fromkeys(third, 0.0)


def write_questions(path: Path) -> None:
    rows = [
        ("Which reactor burns helium pellets?", "The Zorblax reactor burns frozen helium pellets."),
        ("What is the capital of Quarnia?", "Quarnia's capital is Velmora, a city of bridges."),
        ("Where do ghost orchids bloom?", "Ghost orchids bloom in Patagonian snow."),
        ("What burns in the Zorblax reactor?", "The Zorblax reactor burns frozen helium pellets."),
    ]
    lines = ["question,context"] + [f'"{q}","{c}"' for q, c in rows]
    path.write_text("\n".join(lines) + "\n")


def test_load_dedupes_passages_and_checks_columns(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    write_questions(path)
    data = load_eval_set(path)
    assert len(data.questions) == 4 and len(data.documents) == 3
    assert data.questions[0][1] == data.questions[3][1]
    with pytest.raises(InvalidRequestError, match="no column"):
        load_eval_set(path, question_field="query")


async def test_evaluate_reports_every_figure(tmp_path: Path, fake_embeddings: FakeEmbeddings):
    path = tmp_path / "q.csv"
    write_questions(path)
    kb = make_kb(make_settings(tmp_path, "milvus-lite", {}), fake_embeddings)
    try:
        figures = await evaluate(kb, load_eval_set(path), latency_queries=4, concurrency=2)
    finally:
        await kb.aclose()
    for mode in ("vector", "bm25", "rrf", "hybrid", "weighted"):
        for metric in ("recall@1", "recall@5", "recall@10", "mrr", "ndcg@10"):
            assert 0.0 <= figures[f"{mode}.{metric}"] <= 1.0
    assert figures["bm25.recall@1"] == 1.0  # the questions share their passages' words
    assert figures["questions"] == 4 and figures["documents"] == 3 and figures["chunks"] == 3
    assert figures["ingest.chunks_per_s"] > 0 and figures["ingest.embed_only_chunks_per_s"] > 0
    for c in (1, 2):
        assert figures[f"latency.c{c}.p99_ms"] >= figures[f"latency.c{c}.p50_ms"] > 0
    table = format_table(figures)
    assert "| hybrid: RRF |" in table and "(default)" in table and "chunks/s" in table
