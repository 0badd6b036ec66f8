"""``inferstack idp eval`` and ``idp calibrate``: process a labelled folder, then measure
per-field accuracy, document exact match, expected calibration error (ECE, 10 equal-width bins
of field confidence) of the raw scores and of the calibrated confidence, and pages per second;
or fit a calibration to the raw scores."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferstack.errors import InvalidRequestError
from inferstack.idp.calibration import Calibration, fit_schema
from inferstack.idp.decide import AUTO_APPROVED
from inferstack.idp.evidence import normalise
from inferstack.idp.pipeline import Processor
from inferstack.idp.schemas import load_schema
from inferstack.idp.synth import LABELS_FILE
from inferstack.idp.tracing import STAGES

__all__ = [
    "EvalReport",
    "LabelledRun",
    "Progress",
    "calibrate_run",
    "cross_fitted",
    "expected_calibration_error",
    "fit_calibration",
    "process_labelled",
    "reliability",
    "run_eval",
]


@dataclass
class EvalReport:
    """The figures; ``calibrated_fields`` is the share of fields no validator refuted that
    went through the calibration map; ``auto_approved`` the share of documents the threshold
    approved, ``auto_approved_exact_match`` how many of those had every field right."""

    documents: int
    pages: int
    field_accuracy: dict[str, float]
    overall_field_accuracy: float
    exact_match: float
    ece: float
    ece_raw: float
    calibration: str | None
    calibrated_fields: float
    pages_per_second: float
    variant_accuracy: dict[str, float]
    stage_seconds: dict[str, float]
    auto_approved: float
    auto_approved_exact_match: float
    reliability: list[dict[str, float]]
    reliability_raw: list[dict[str, float]]
    # K-fold cross-fitting on this set: each document's fields mapped through a calibration
    # fitted on the other folds' documents (held out); None unless asked for
    cross_fit_folds: int | None = None
    ece_cross_fitted: float | None = None
    reliability_cross_fitted: list[dict[str, float]] | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class FieldResult:
    """One labelled field as processed: was it right, and its scores."""

    document: str
    name: str
    right: bool
    confidence: float
    raw_confidence: float
    calibrated: bool
    validation_failed: bool


@dataclass
class LabelledRun:
    """A labelled folder after processing: per-field results, pages, seconds, the model."""

    schema_name: str
    fields: list[str]
    results: list[FieldResult]
    variants: dict[str, str]
    documents: int
    pages: int
    seconds: float
    model: str
    seed: int | None = None
    reader: str = "ocr"  # how image pages were read (IdpSettings.reader)
    stage_seconds: dict[str, float] = field(default_factory=dict)  # mean per document
    statuses: dict[str, str] = field(default_factory=dict)  # by document


def reliability(pairs: list[tuple[float, bool]], bins: int = 10) -> list[dict[str, float]]:
    """Per non-empty equal-width bin of confidence: its range, how many values, their mean
    confidence and how many were right (the data of a reliability diagram)."""
    rows = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        members = [(c, ok) for c, ok in pairs if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if members:
            rows.append(
                {
                    "low": lo,
                    "high": hi,
                    "count": len(members),
                    "confidence": sum(c for c, _ in members) / len(members),
                    "accuracy": sum(ok for _, ok in members) / len(members),
                }
            )
    return rows


def expected_calibration_error(pairs: list[tuple[float, bool]], bins: int = 10) -> float:
    """Sum over bins of (bin share) x |accuracy - mean confidence| in the bin."""
    return (
        sum(
            row["count"] / len(pairs) * abs(row["accuracy"] - row["confidence"])
            for row in reliability(pairs, bins)
        )
        + 0.0
    )


def _right(got: Any, expected: Any) -> bool:
    return normalise(str("" if got is None else got)) == normalise(str(expected))


Progress = Callable[[int, int], None]  # (documents done, documents in all)


def process_labelled(
    processor: Processor, folder: Path, concurrency: int = 4, progress: Progress | None = None
) -> LabelledRun:
    """Process every file ``folder/labels.json`` lists and compare the values with it."""
    labels_path = folder / LABELS_FILE
    if not labels_path.is_file():
        raise InvalidRequestError(f"{labels_path} not found", param="dir")
    labels = json.loads(labels_path.read_text())
    name, schema = load_schema(labels["schema"])
    truth: dict[str, dict[str, Any]] = labels["documents"]
    done = itertools.count(1)

    def one(filename: str) -> dict[str, Any]:
        doc = processor.process(folder / filename, name, schema)
        if progress is not None:
            progress(next(done), len(truth))
        return doc

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        docs = list(pool.map(one, truth))
    seconds = time.perf_counter() - start
    fields = list(schema["properties"])
    results = []
    for (filename, expected), doc in zip(truth.items(), docs, strict=True):
        for f in fields:
            info = doc["fields"][f]
            results.append(
                FieldResult(
                    document=filename,
                    name=f,
                    right=_right(doc["values"].get(f), expected[f]),
                    confidence=float(info["confidence"]),
                    raw_confidence=float(info.get("raw_confidence", info["confidence"])),
                    calibrated=bool(info.get("calibrated", False)),
                    validation_failed=bool(info.get("validation_failed", False)),
                )
            )
    return LabelledRun(
        schema_name=name,
        fields=fields,
        results=results,
        variants=dict(labels.get("variants", {})),
        documents=len(docs),
        pages=sum(d["pages"] for d in docs),
        seconds=seconds,
        model=str(docs[0]["model"]) if docs else "",
        seed=labels.get("seed"),
        reader=processor.settings.reader,
        stage_seconds=_mean_stages(docs),
        statuses={f: str(d["status"]) for f, d in zip(truth, docs, strict=True)},
    )


def _mean_stages(docs: list[dict[str, Any]]) -> dict[str, float]:
    """Mean seconds per document in each stage (documents processed in this run)."""
    fresh = [d["seconds"] for d in docs if "seconds" in d]
    stages = {k for seconds in fresh for k in seconds}
    return {k: sum(s.get(k, 0.0) for s in fresh) / len(fresh) for k in STAGES if k in stages}


def _share(hits: int, total: int) -> float:
    return hits / total if total else 0.0


def _fit_samples(results: list[FieldResult]) -> list[tuple[str, float, bool]]:
    """What a calibration is fitted to: fields no validator refuted (those stay at 0)."""
    return [(r.name, r.raw_confidence, r.right) for r in results if not r.validation_failed]


def cross_fitted(run: LabelledRun, folds: int) -> list[tuple[float, bool]]:
    """(held-out calibrated confidence, right) for every field: documents are dealt into
    ``folds`` groups in label order, and each group's raw scores go through maps fitted on the
    other groups only."""
    if folds < 2 or folds > run.documents:
        raise InvalidRequestError(
            f"cross-fitting needs 2 to {run.documents} folds, not {folds}", param="cross_fit"
        )
    documents = list(dict.fromkeys(r.document for r in run.results))
    fold_of = {d: i % folds for i, d in enumerate(documents)}
    pairs = []
    for k in range(folds):
        train = [r for r in run.results if fold_of[r.document] != k]
        entry = fit_schema(_fit_samples(train), run.model, f"fold {k}", reader=run.reader)
        for r in run.results:
            if fold_of[r.document] == k:
                held_out = 0.0 if r.validation_failed else entry.map_for(r.name)(r.raw_confidence)
                pairs.append((held_out, r.right))
    return pairs


def run_eval(
    processor: Processor,
    folder: Path,
    concurrency: int = 4,
    progress: Progress | None = None,
    cross_fit: int | None = None,
) -> tuple[EvalReport, LabelledRun]:
    """Process the labelled ``folder`` and score the results (with ``cross_fit`` folds, also
    the held-out calibration error of a calibration fitted on this set)."""
    run = process_labelled(processor, folder, concurrency, progress)
    by_doc: dict[str, bool] = {}
    for r in run.results:
        by_doc[r.document] = by_doc.get(r.document, True) and r.right
    variant_right: dict[str, list[bool]] = {}
    for r in run.results:
        variant = run.variants.get(r.document)
        if variant is not None:
            variant_right.setdefault(variant, []).append(r.right)
    approved = [d for d, status in run.statuses.items() if status == AUTO_APPROVED]
    calibration = processor.calibration
    mappable = [r for r in run.results if not r.validation_failed]
    calibrated = [(r.confidence, r.right) for r in run.results]
    raw = [(r.raw_confidence, r.right) for r in run.results]
    held_out = cross_fitted(run, cross_fit) if cross_fit is not None else None
    report = EvalReport(
        documents=run.documents,
        pages=run.pages,
        field_accuracy={
            f: _share(sum(r.right for r in run.results if r.name == f), run.documents)
            for f in run.fields
        },
        overall_field_accuracy=_share(sum(r.right for r in run.results), len(run.results)),
        exact_match=_share(sum(by_doc.values()), len(by_doc)),
        ece=expected_calibration_error(calibrated),
        ece_raw=expected_calibration_error(raw),
        calibration=None if calibration is None else calibration.source,
        calibrated_fields=_share(sum(r.calibrated for r in mappable), len(mappable)),
        pages_per_second=run.pages / run.seconds if run.seconds > 0 else 0.0,
        variant_accuracy={v: _share(sum(oks), len(oks)) for v, oks in variant_right.items()},
        stage_seconds=run.stage_seconds,
        auto_approved=_share(len(approved), run.documents),
        auto_approved_exact_match=_share(sum(by_doc[d] for d in approved), len(approved)),
        reliability=reliability(calibrated),
        reliability_raw=reliability(raw),
        cross_fit_folds=cross_fit,
        ece_cross_fitted=None if held_out is None else expected_calibration_error(held_out),
        reliability_cross_fitted=None if held_out is None else reliability(held_out),
    )
    return report, run


def fit_calibration(
    processor: Processor,
    folder: Path,
    concurrency: int = 4,
    into: Calibration | None = None,
    progress: Progress | None = None,
) -> tuple[Calibration, LabelledRun]:
    """Process the labelled ``folder`` and fit its schema's maps to the raw scores (fields a
    validator failed are left out: they are 0 whatever the map says). The maps are added to
    ``into`` (replacing that schema's) or to a new calibration."""
    run = process_labelled(processor, folder, concurrency, progress)
    return calibrate_run(run, folder, into), run


def calibrate_run(run: LabelledRun, folder: Path, into: Calibration | None = None) -> Calibration:
    """Fit ``run``'s schema maps to its raw scores, added to ``into`` (replacing that
    schema's) or to a new calibration."""
    samples = _fit_samples(run.results)
    if not samples:
        raise InvalidRequestError(f"{folder}: no labelled values to fit", param="dir")
    fitted_on = f"{run.documents} labelled documents ({run.pages} pages) in {folder.name}"
    if run.seed is not None:
        fitted_on += f", generated with seed {run.seed}"
    calibration = into if into is not None else Calibration({})
    calibration.schemas[run.schema_name] = fit_schema(
        samples, run.model, fitted_on, reader=run.reader
    )
    return calibration
