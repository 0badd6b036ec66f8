"""``inferstack idp …``: process documents to a schema (``process``), serve the review queue
API (``serve``), write a labelled set (``generate``), measure on one (``eval``) and fit the
confidence calibration to one (``calibrate``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "add_parser",
    "run_calibrate",
    "run_eval",
    "run_generate",
    "run_ground_truth",
    "run_process",
    "run_serve",
]


def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url", default=None, help="OpenAI-compatible base URL (default: http://127.0.0.1:8000/v1)"
    )
    p.add_argument("--chat-model", default=None, help="chat model id (default: default)")
    p.add_argument(
        "--api-key", default=os.environ.get("OPENAI_API_KEY"), help="default: $OPENAI_API_KEY"
    )
    p.add_argument(
        "--reader",
        choices=["ocr", "vision"],
        default=None,
        help="how page images are read: tesseract (ocr, the default) or --vision-model through "
        "--url, each page sent as an image_url content part (vision)",
    )
    p.add_argument("--vision-model", default=None, help="vision chat model id (--reader vision)")
    p.add_argument(
        "--vision-fallback",
        choices=["none", "ocr"],
        default=None,
        help="a page the vision model fails on: fail the document (none, the default) or OCR it",
    )


def _add_calibration(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--calibration",
        default=None,
        metavar="default|none|FILE",
        help="confidence calibration: the shipped map (default), raw scores (none) or a file "
        "from 'idp calibrate'",
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
        description="Each file (PDF, PNG, JPEG, TIFF; a folder: every such file under it) is "
        "read (text layer, tesseract OCR or --reader vision), extracted to the schema by the "
        "chat model, scored per field, auto-approved or queued for review, and stored; a file "
        "already processed is returned as stored. A progress bar goes to stderr when it is a "
        "terminal.",
    )
    proc.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="documents, or folders of them"
    )
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
    _add_calibration(proc)
    _add_common(proc)
    proc.set_defaults(func=run_process)
    serve = sub.add_parser("serve", help="serve the review queue API (/v1/idp) on 127.0.0.1:8400")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8400, help="port (default: 8400)")
    _add_model(serve)
    _add_calibration(serve)
    _add_common(serve)
    serve.set_defaults(func=run_serve)
    gen = sub.add_parser(
        "generate",
        help="write a seeded, labelled set of generated invoices (clean PNGs, skewed noisy "
        "JPEG and PDF scans, scans turned sideways or upside down)",
    )
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
    _add_calibration(ev)
    ev.add_argument(
        "--cross-fit",
        type=int,
        default=None,
        metavar="K",
        help="also fit a calibration on this set K times, each time holding one fold of "
        "documents out, and report the calibration error on the held-out folds",
    )
    ev.add_argument(
        "--fit-out",
        type=Path,
        default=None,
        metavar="FILE",
        help="write a calibration fitted on this whole set (as idp calibrate does)",
    )
    ev.set_defaults(func=run_eval, config=None, state_dir=None, database_url=None)
    cal = sub.add_parser(
        "calibrate",
        help="fit the field-confidence calibration to a labelled folder",
        description="Processes every file listed in DIR/labels.json into a fresh temporary "
        "database, fits a monotone map from each field's raw score to how often such values "
        "were right (isotonic regression), and writes it to --out (replacing that schema's "
        "maps when the file exists). Evaluate it on another set: idp eval --calibration FILE.",
    )
    cal.add_argument("dir", type=Path, metavar="DIR")
    cal.add_argument("--out", type=Path, required=True, help="calibration file to write")
    cal.add_argument("--concurrency", type=int, default=4, help="documents at once (default: 4)")
    _add_model(cal)
    cal.set_defaults(func=run_calibrate, config=None, state_dir=None, database_url=None)
    gt = sub.add_parser(
        "ground-truth",
        help="export the documents reviewers saved as ground truth as a labelled folder",
        description="Copies every ground-truth document of --schema (its kept file) into DIR "
        "with labels.json, ready for idp eval DIR and idp calibrate DIR.",
    )
    gt.add_argument("dir", type=Path, metavar="DIR")
    gt.add_argument("--schema", default="invoice", help="schema name (default: invoice)")
    _add_common(gt)
    gt.set_defaults(func=run_ground_truth)


def _progress(total: int, unit: str) -> Any:
    """A progress bar on stderr, shown only when stderr is a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, unit=f" {unit}", file=sys.stderr, disable=None, leave=False)


def _ticker(bar: Any) -> Any:
    """A progress callback (done, total) that moves ``bar`` (called from worker threads)."""
    import threading

    lock = threading.Lock()

    def tick(done: int, total: int) -> None:
        with lock:
            bar.total = total
            bar.update(max(0, done - bar.n))

    return tick


def _telemetry() -> Any:
    """Pipeline spans, exported when OTEL_EXPORTER_OTLP_ENDPOINT (or the telemetry settings)
    name a target; a no-op tracer otherwise."""
    from inferstack.telemetry.tracing import Telemetry

    return Telemetry.from_settings(service_name="inferstack-idp")


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from pydantic import ValidationError

    from inferstack.errors import InvalidRequestError
    from inferstack.idp.settings import IdpSettings

    url = getattr(args, "url", None)
    if url:
        url = url.rstrip("/")
        url = url if url.endswith("/v1") else f"{url}/v1"
    try:
        return IdpSettings.from_sources(
            args.config,
            state_dir=args.state_dir,
            database_url=args.database_url,
            chat_base_url=url,
            reader=getattr(args, "reader", None),
            vision_model=getattr(args, "vision_model", None),
            vision_fallback=getattr(args, "vision_fallback", None),
            **extra,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise InvalidRequestError(f"{where}: {first['msg']}", param=where) from exc


def run_process(args: argparse.Namespace) -> int:
    from inferstack.idp.extract import open_client
    from inferstack.idp.pipeline import Processor
    from inferstack.idp.read import document_files
    from inferstack.idp.schemas import load_schema
    from inferstack.idp.store import IdpStore

    settings = _settings(
        args,
        chat_model=args.chat_model,
        api_key=args.api_key,
        approve_threshold=args.threshold,
        calibration=args.calibration,
    )
    name, schema = load_schema(args.schema)
    files = document_files(args.files)
    store = IdpStore(settings.resolved_database_url())
    telemetry = _telemetry()
    results = []
    try:
        with open_client(settings) as client, _progress(len(files), "documents") as bar:
            processor = Processor(settings, client, store, telemetry=telemetry)
            for path in files:
                doc = processor.process(path, name, schema)
                bar.update()
                results.append(doc)
                if not args.json:
                    bar.write(
                        f"{path}: document {doc['id']} {doc['status']} "
                        f"(lowest confidence {doc['min_confidence']:.2f})",
                        file=sys.stdout,
                    )
                    for field, info in doc["fields"].items():
                        bar.write(
                            f"  {field} = {info['value']!r}  confidence {info['confidence']:.2f}",
                            file=sys.stdout,
                        )
    finally:
        store.close()
        telemetry.shutdown()
    if args.json:
        print(json.dumps({"documents": results}, indent=2))
    return 0


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from inferstack.idp.app import build_app

    settings = _settings(
        args, chat_model=args.chat_model, api_key=args.api_key, calibration=args.calibration
    )
    uvicorn.run(build_app(settings), host=args.host, port=args.port, log_level="info")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from inferstack.idp.synth import generate_invoices

    print(generate_invoices(args.dir, args.count, args.seed))
    return 0


def run_eval(args: argparse.Namespace) -> int:
    import tempfile

    from inferstack.idp.calibration import Calibration
    from inferstack.idp.evaluation import calibrate_run
    from inferstack.idp.evaluation import run_eval as evaluate
    from inferstack.idp.extract import open_client
    from inferstack.idp.pipeline import Processor
    from inferstack.idp.store import IdpStore

    with tempfile.TemporaryDirectory(prefix="inferstack-idp-eval-") as tmp:
        args.state_dir = Path(tmp)
        settings = _settings(
            args, chat_model=args.chat_model, api_key=args.api_key, calibration=args.calibration
        )
        store = IdpStore(settings.resolved_database_url())
        telemetry = _telemetry()
        try:
            with open_client(settings) as client:
                processor = Processor(settings, client, store, telemetry=telemetry)
                with _progress(0, "documents") as bar:
                    report, run = evaluate(
                        processor, args.dir, args.concurrency, _ticker(bar), args.cross_fit
                    )
        finally:
            store.close()
            telemetry.shutdown()
    if args.fit_out is not None:
        existing = Calibration.read(args.fit_out) if args.fit_out.is_file() else None
        calibrate_run(run, args.dir, existing).write(args.fit_out)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    print(f"documents {report.documents}, pages {report.pages}")
    for field, acc in report.field_accuracy.items():
        print(f"  {field:<20} accuracy {acc:.3f}")
    for variant, acc in report.variant_accuracy.items():
        print(f"  {variant + ' documents':<20} field accuracy {acc:.3f}")
    print(
        f"field accuracy {report.overall_field_accuracy:.3f}  exact match {report.exact_match:.3f}"
    )
    print(
        f"auto-approved {report.auto_approved:.3f} of documents, "
        f"{report.auto_approved_exact_match:.3f} of them exactly right"
    )
    print("calibrated confidence   values  mean confidence  right")
    for row in report.reliability:
        print(
            f"  {row['low']:.1f}-{row['high']:.1f}  {row['count']:>13}  "
            f"{row['confidence']:>15.3f}  {row['accuracy']:>5.3f}"
        )
    if report.ece_cross_fitted is not None:
        print(
            f"ECE of a calibration fitted on this set, {report.cross_fit_folds}-fold "
            f"cross-fitted (held-out documents): {report.ece_cross_fitted:.3f}"
        )
    stages = ", ".join(f"{k} {v:.2f}" for k, v in report.stage_seconds.items())
    print(f"seconds per document by stage: {stages}")
    print(
        f"ECE raw {report.ece_raw:.3f}  calibrated {report.ece:.3f} "
        f"(calibration {report.calibration or 'none'}, "
        f"{report.calibrated_fields:.0%} of fields mapped)  pages/s {report.pages_per_second:.3f}"
    )
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    import tempfile

    from inferstack.idp.calibration import Calibration
    from inferstack.idp.evaluation import expected_calibration_error, fit_calibration
    from inferstack.idp.extract import open_client
    from inferstack.idp.pipeline import Processor
    from inferstack.idp.store import IdpStore

    existing = Calibration.read(args.out) if args.out.is_file() else None
    with tempfile.TemporaryDirectory(prefix="inferstack-idp-calibrate-") as tmp:
        args.state_dir = Path(tmp)
        settings = _settings(
            args, chat_model=args.chat_model, api_key=args.api_key, calibration="none"
        )
        store = IdpStore(settings.resolved_database_url())
        telemetry = _telemetry()
        try:
            with open_client(settings) as client:
                processor = Processor(settings, client, store, telemetry=telemetry)
                with _progress(0, "documents") as bar:
                    calibration, run = fit_calibration(
                        processor, args.dir, args.concurrency, existing, _ticker(bar)
                    )
        finally:
            store.close()
            telemetry.shutdown()
    calibration.write(args.out)
    entry = calibration.schemas[run.schema_name]
    fitted = [r for r in run.results if not r.validation_failed]
    raw = [(r.raw_confidence, r.right) for r in fitted]
    mapped = [(entry.map_for(r.name)(r.raw_confidence), r.right) for r in fitted]
    print(
        f"{args.out}: {run.schema_name} maps for model {entry.model!r} fitted on "
        f"{entry.fitted_on}; on that set ECE raw {expected_calibration_error(raw):.3f}, "
        f"calibrated {expected_calibration_error(mapped):.3f} (in-sample: evaluate on another "
        "set with idp eval --calibration)"
    )
    return 0


def run_ground_truth(args: argparse.Namespace) -> int:
    from inferstack.idp.ground_truth import export_ground_truth
    from inferstack.idp.store import IdpStore

    settings = _settings(args)
    store = IdpStore(settings.resolved_database_url())
    try:
        labels = export_ground_truth(store, settings.files_dir, args.dir, args.schema)
    finally:
        store.close()
    print(labels)
    return 0
