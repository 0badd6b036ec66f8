"""``inferstack rag …``: the RAG HTTP service (``serve``) and retrieval evaluation (``eval``)."""

from __future__ import annotations

import argparse

from inferstack.cli import rag_eval
from inferstack.cli.rag_common import add_kb_arguments, rag_settings

__all__ = ["add_parser", "run_serve"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("rag", help="RAG HTTP service and retrieval evaluation")
    sub = p.add_subparsers(dest="rag_command", metavar="RAG_COMMAND", required=True)
    rag_eval.add_parser(sub)
    serve = sub.add_parser(
        "serve",
        help="serve /v1/rag/query, /v1/rag/retrieve, /v1/rag/documents on 127.0.0.1",
        description="The RAG service: grounded answers (streaming), retrieval and inline "
        "ingestion over HTTP, on the knowledge base that 'inferstack ingest' builds.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8100, help="port (default: 8100)")
    add_kb_arguments(serve)
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from inferstack.rag.app import build_app

    settings = rag_settings(args)
    uvicorn.run(build_app(settings), host=args.host, port=args.port, log_level="info")
    return 0
