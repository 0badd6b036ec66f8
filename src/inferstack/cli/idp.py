"""``inferstack idp …``: process documents to a schema (``process``) and serve the review
queue API (``serve``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run_eval", "run_generate", "run_process", "run_serve"]


def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url", default=None, help="OpenAI-compatible base URL (default: http://127.0.0.1:8000/v1)"
    )
    p.add_argument("--chat-model", default=None, help="chat model id (default: default)")
    p.add_argument(
        "--api-key", default=os.environ.get("OPENAI_API_KEY"), help="default: $OPENAI_API_KEY"
    )


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None, help="IDP settings YAML file")
    p.add_argument(
        "--state-dir", type=Path, default=None, help="IDP state folder (default: ~/.inferstack/idp)"
    )
    p.add_argument(
        "--database-url", default=None, help="SQLAlchemy URL (default: STATE_DIR/idp.db)"
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("idp", help="document processing: OCR, schema extraction, review")
    sub = p.add_subparsers(dest="idp_command", metavar="IDP_COMMAND", required=True)
    proc = sub.add_parser(
        "process",
        help="read documents, extract a schema's fields, score, decide and store them",
        description="Each file (PDF, PNG, JPEG, TIFF) is read (text layer or tesseract OCR), "
        "extracted to the schema by the chat model, scored per field, auto-approved or "
        "queued for review, and stored; a file already processed is returned as stored.",
    )
    proc.add_argument("files", nargs="+", type=Path, metavar="FILE")
    proc.add_argument(
        "--schema",
        default="invoice",
        help="invoice, receipt, birth_certificate, identity_document or a JSON Schema file",
    )
    proc.add_argument("--json", action="store_true", help="print the documents as JSON")
    _add_model(proc)
    proc.add_argument(
        "--threshold", type=float, default=None, help="auto-approval confidence (default: 0.8)"
    )
    _add_common(proc)
    proc.set_defaults(func=run_process)
    serve = sub.add_parser("serve", help="serve the review queue API (/v1/idp) on 127.0.0.1:8400")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8400, help="port (default: 8400)")
    _add_common(serve)
    serve.set_defaults(func=run_serve)
    gen = sub.add_parser("generate", help="write a labelled set of generated invoices (PNG)")
    gen.add_argument("dir", type=Path, metavar="DIR")
    gen.add_argument("--count", type=int, default=100, help="documents (default: 100)")
    gen.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    gen.set_defaults(func=run_generate)
    ev = sub.add_parser(
        "eval",
        help="process a labelled folder: per-field accuracy, exact match, calibration, pages/s",
        description="Processes every file listed in DIR/labels.json into a fresh temporary "
        "database (never the state dir) and compares the values with the labels.",
    )
    ev.add_argument("dir", type=Path, metavar="DIR")
    ev.add_argument("--concurrency", type=int, default=4, help="documents at once (default: 4)")
    ev.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_model(ev)
    ev.set_defaults(func=run_eval, config=None, state_dir=None, database_url=None)


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from inferstack.idp.settings import IdpSettings

    url = getattr(args, "url", None)
    if url:
        url = url.rstrip("/")
        url = url if url.endswith("/v1") else f"{url}/v1"
    return IdpSettings.from_sources(
        args.config,
        state_dir=args.state_dir,
        database_url=args.database_url,
        chat_base_url=url,
        **extra,
    )


def run_process(args: argparse.Namespace) -> int:
    from inferstack.idp.extract import open_client
    from inferstack.idp.pipeline import Processor
    from inferstack.idp.schemas import load_schema
    from inferstack.idp.store import IdpStore

    settings = _settings(
        args, chat_model=args.chat_model, api_key=args.api_key, approve_threshold=args.threshold
    )
    name, schema = load_schema(args.schema)
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        print(f"inferstack idp: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    store = IdpStore(settings.resolved_database_url())
    results = []
    try:
        with open_client(settings) as client:
            processor = Processor(settings, client, store)
            for path in args.files:
                doc = processor.process(path, name, schema)
                results.append(doc)
                if not args.json:
                    print(
                        f"{path}: document {doc['id']} {doc['status']} "
                        f"(lowest confidence {doc['min_confidence']:.2f})"
                    )
                    for field, info in doc["fields"].items():
                        print(f"  {field} = {info['value']!r}  confidence {info['confidence']:.2f}")
    finally:
        store.close()
    if args.json:
        print(json.dumps({"documents": results}, indent=2))
    return 0


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from inferstack.idp.app import build_app

    uvicorn.run(build_app(_settings(args)), host=args.host, port=args.port, log_level="info")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from inferstack.idp.synth import generate_invoices

    print(generate_invoices(args.dir, args.count, args.seed))
    return 0


def run_eval(args: argparse.Namespace) -> int:
    import tempfile

    from inferstack.idp.evaluation import run_eval as evaluate
    from inferstack.idp.extract import open_client
    from inferstack.idp.pipeline import Processor
    from inferstack.idp.store import IdpStore

    with tempfile.TemporaryDirectory(prefix="inferstack-idp-eval-") as tmp:
        args.state_dir = Path(tmp)
        settings = _settings(args, chat_model=args.chat_model, api_key=args.api_key)
        store = IdpStore(settings.resolved_database_url())
        try:
            with open_client(settings) as client:
                report = evaluate(Processor(settings, client, store), args.dir, args.concurrency)
        finally:
            store.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    print(f"documents {report.documents}, pages {report.pages}")
    for field, acc in report.field_accuracy.items():
        print(f"  {field:<20} accuracy {acc:.3f}")
    print(
        f"field accuracy {report.overall_field_accuracy:.3f}  exact match {report.exact_match:.3f}"
    )
    print(f"ECE {report.ece:.3f}  pages/s {report.pages_per_second:.3f}")
    return 0
