"""``inferstack idp eval``: process a labelled folder and measure per-field accuracy,
document exact match, expected calibration error (ECE, 10 equal-width bins of field
confidence) and pages per second."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferstack.errors import InvalidRequestError
from inferstack.idp.evidence import normalise
from inferstack.idp.pipeline import Processor
from inferstack.idp.schemas import load_schema
from inferstack.idp.synth import LABELS_FILE

__all__ = ["EvalReport", "expected_calibration_error", "run_eval"]


@dataclass
class EvalReport:
    documents: int
    pages: int
    field_accuracy: dict[str, float]
    overall_field_accuracy: float
    exact_match: float
    ece: float
    pages_per_second: float

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def expected_calibration_error(pairs: list[tuple[float, bool]], bins: int = 10) -> float:
    """Sum over bins of (bin share) x |accuracy - mean confidence| in the bin."""
    if not pairs:
        return 0.0
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        members = [(c, ok) for c, ok in pairs if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if members:
            accuracy = sum(ok for _, ok in members) / len(members)
            confidence = sum(c for c, _ in members) / len(members)
            total += len(members) / len(pairs) * abs(accuracy - confidence)
    return total


def run_eval(processor: Processor, folder: Path, concurrency: int = 4) -> EvalReport:
    """Process every labelled file of ``folder`` (``labels.json``) and score the results."""
    labels_path = folder / LABELS_FILE
    if not labels_path.is_file():
        raise InvalidRequestError(f"{labels_path} not found", param="dir")
    labels = json.loads(labels_path.read_text())
    name, schema = load_schema(labels["schema"])
    truth: dict[str, dict[str, Any]] = labels["documents"]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        docs = list(pool.map(lambda f: processor.process(folder / f, name, schema), truth))
    elapsed = time.perf_counter() - start
    fields = list(schema["properties"])
    right = dict.fromkeys(fields, 0)
    exact = 0
    pairs: list[tuple[float, bool]] = []
    for doc, expected in zip(docs, truth.values(), strict=True):
        all_right = True
        for f in fields:
            ok = normalise(str(doc["values"].get(f, ""))) == normalise(str(expected[f]))
            right[f] += ok
            all_right &= ok
            pairs.append((doc["fields"][f]["confidence"], ok))
        exact += all_right
    n = max(1, len(docs))
    pages = sum(d["pages"] for d in docs)
    return EvalReport(
        documents=len(docs),
        pages=pages,
        field_accuracy={f: right[f] / n for f in fields},
        overall_field_accuracy=sum(right.values()) / (n * max(1, len(fields))),
        exact_match=exact / n,
        ece=expected_calibration_error(pairs),
        pages_per_second=pages / elapsed if elapsed > 0 else 0.0,
    )
