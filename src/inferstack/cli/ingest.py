"""``inferstack ingest PATH…``: add files and folders to the knowledge base, incrementally."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inferstack.cli.rag_common import add_kb_arguments, rag_settings

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ingest",
        help="add md/txt/csv/json/jsonl/pdf/html files to the knowledge base",
        description="Ingest files and folders. Unchanged documents are skipped, changed ones "
        "re-chunked (only their changed chunks re-embedded), vanished ones removed. A crashed "
        "run is finished by running again.",
    )
    p.add_argument("paths", nargs="+", type=Path, help="files or folders")
    p.add_argument("--text-field", action="append", default=[], help="csv/json text field(s)")
    p.add_argument("--meta-field", action="append", default=[], help="csv/json metadata field(s)")
    p.add_argument("--id-field", default=None, help="csv/json field with a stable record id")
    p.add_argument("--no-prune", action="store_true", help="keep documents whose files vanished")
    p.add_argument("--verify", action="store_true", help="compare every id in store and docstore")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_kb_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from inferstack.rag.ingest import ingest_paths
    from inferstack.rag.retrieve import open_knowledge_base
    from inferstack.rag.sources import ReadOptions

    settings = rag_settings(args)
    options = ReadOptions(
        text_fields=tuple(args.text_field),
        metadata_fields=tuple(args.meta_field),
        id_field=args.id_field,
    )

    async def go() -> int:
        from tqdm import tqdm

        kb = open_knowledge_base(settings)
        bar = tqdm(unit="doc", desc="ingest", disable=args.quiet or not sys.stderr.isatty())
        try:
            report = await ingest_paths(
                kb,
                args.paths,
                options,
                prune=not args.no_prune,
                verify=args.verify,
                progress=bar.update,
            )
        finally:
            bar.close()
            await kb.aclose()
        if args.json:
            print(json.dumps(report.as_dict()))
        else:
            print(report.summary())
            for failure in report.failed:
                print(
                    f"failed: {failure['doc_id']} chunk {failure['chunk']}: {failure['error']}",
                    file=sys.stderr,
                )
        return 1 if report.failed else 0

    return asyncio.run(go())
