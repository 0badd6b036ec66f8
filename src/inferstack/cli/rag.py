"""``inferstack rag …``: the RAG service and its evaluation."""

from __future__ import annotations

import argparse

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("rag", help="RAG service and retrieval evaluation")
    sub = p.add_subparsers(dest="rag_command", metavar="RAG_COMMAND", required=True)
    from inferstack.cli import rag_eval

    rag_eval.add_parser(sub)
