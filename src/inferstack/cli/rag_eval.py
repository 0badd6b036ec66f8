"""``inferstack rag eval FILE.csv``: retrieval quality, ingestion throughput and latency."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from inferstack.cli.rag_common import add_kb_arguments, rag_settings

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="recall@k, MRR, nDCG for vector, BM25 and hybrid retrieval on a question CSV",
        description="Ingest the CSV's passages into a fresh knowledge base (a temporary one "
        "unless --kb-dir is given), rank every question with each mode, and report recall@1/5/"
        "10, MRR@10, nDCG@10, ingestion chunks/s and hybrid query latency p50/p99.",
    )
    p.add_argument("file", type=Path, help="CSV with a question and a context column")
    p.add_argument("--question-field", default="question", help="question column")
    p.add_argument("--context-field", default="context", help="relevant passage column")
    p.add_argument("--limit", type=int, default=None, help="evaluate the first N questions")
    p.add_argument("--latency-queries", type=int, default=100, help="queries per latency run")
    p.add_argument("--concurrency", type=int, default=8, help="concurrent queries (default 8)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    add_kb_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from inferstack.rag.evaluation import evaluate, format_table, load_eval_set
    from inferstack.rag.retrieve import open_knowledge_base

    data = load_eval_set(args.file, args.question_field, args.context_field, args.limit)
    with tempfile.TemporaryDirectory(prefix="inferstack-rag-eval-") as tmp:
        if args.kb_dir is None:
            args.kb_dir = Path(tmp)
        if args.store is None and args.store_uri is None:
            args.store = "milvus-lite"  # never the stack's own knowledge base
        settings = rag_settings(args)

        async def go() -> dict[str, object]:
            kb = open_knowledge_base(settings)
            try:
                return await evaluate(
                    kb, data, latency_queries=args.latency_queries, concurrency=args.concurrency
                )
            finally:
                await kb.aclose()

        figures = asyncio.run(go())
    print(json.dumps(figures) if args.json else format_table(figures))
    return 0
