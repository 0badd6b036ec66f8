"""The labelled set generator and the evaluation's arithmetic (accuracy, exact match, ECE raw
and calibrated), and fitting a calibration on one set to evaluate it on another, run through the
real pipeline (real tesseract) against an in-memory chat server that answers from the labels,
getting one field wrong on some documents."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from inferstack.errors import InvalidRequestError
from inferstack.idp.calibration import Calibration
from inferstack.idp.evaluation import (
    cross_fitted,
    expected_calibration_error,
    fit_calibration,
    reliability,
    run_eval,
)
from inferstack.idp.pipeline import Processor
from inferstack.idp.review import ReviewQueue
from inferstack.idp.settings import IdpSettings
from inferstack.idp.store import IdpStore
from inferstack.idp.synth import VARIANTS, generate_invoices


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_not() -> None:
    assert expected_calibration_error([]) == 0.0
    assert expected_calibration_error([(1.0, True), (0.0, False)]) == 0.0
    half = [(0.55, True), (0.55, False)]  # bin [0.5, 0.6): accuracy 0.5, confidence 0.55
    assert math.isclose(expected_calibration_error(half), 0.05)
    assert math.isclose(expected_calibration_error([(0.95, False)]), 0.95)
    rows = reliability([(0.55, True), (0.55, False), (1.0, True)])
    assert [(r["low"], r["count"], r["accuracy"]) for r in rows] == [(0.5, 2, 0.5), (0.9, 1, 1.0)]


def test_generated_set_is_seeded_labelled_and_holds_every_kind_of_scan(tmp_path: Path) -> None:
    a = json.loads(generate_invoices(tmp_path / "a", 10, seed=7).read_text())
    b = json.loads(generate_invoices(tmp_path / "b", 10, seed=7).read_text())
    assert a == b and a["schema"] == "invoice" and a["seed"] == 7 and len(a["documents"]) == 10
    for name in a["documents"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert set(a["variants"].values()) == set(VARIANTS)
    suffixes = {a["variants"][n]: Path(n).suffix for n in a["documents"]}
    assert suffixes == {"clean": ".png", "scan": ".jpg", "scan-pdf": ".pdf", "scan-turned": ".jpg"}
    other = json.loads(generate_invoices(tmp_path / "c", 10, seed=8).read_text())
    assert other["documents"] != a["documents"]


def _answering(folder: Path, wrong_every: int) -> httpx.Client:
    """A chat server that copies the labelled values of the document in the prompt, except
    the currency of every ``wrong_every``-th document (counted in the order of the labels)."""
    truth = list(json.loads((folder / "labels.json").read_text())["documents"].values())

    def handle(request: httpx.Request) -> httpx.Response:
        prompt = json.loads(request.content)["messages"][-1]["content"]
        [index] = [i for i, t in enumerate(truth) if t["invoice_number"] in prompt]
        answer = dict(truth[index])
        if index % wrong_every == wrong_every - 1:
            answer["currency"] = "JPY"
        message = {"role": "assistant", "content": json.dumps(answer)}
        choice = {"index": 0, "finish_reason": "stop", "message": message}
        return httpx.Response(200, json={"model": "m", "choices": [choice]})

    return httpx.Client(transport=httpx.MockTransport(handle), base_url="http://m/v1")


def test_eval_counts_right_fields_and_exact_documents(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    generate_invoices(folder, 2, seed=1)
    settings = IdpSettings(state_dir=tmp_path / "state")
    store = IdpStore(settings.resolved_database_url())
    processor = Processor(settings, _answering(folder, 2), store)
    report, run = run_eval(processor, folder, concurrency=2, cross_fit=2)
    store.close()
    assert report.documents == 2 and report.pages == 2
    assert report.field_accuracy["currency"] == 0.5
    assert report.field_accuracy["invoice_number"] == 1.0
    assert math.isclose(report.overall_field_accuracy, 9 / 10)
    assert report.exact_match == 0.5
    assert report.variant_accuracy == {"clean": 1.0, "scan": 0.8}
    # the shipped calibration was fitted for the default model, not for "m": raw scores stay
    assert report.calibration == "default" and report.calibrated_fields == 0.0
    assert report.ece == report.ece_raw and 0.0 <= report.ece <= 1.0
    assert report.pages_per_second > 0
    assert set(report.stage_seconds) == {"read", "extract", "score", "store"}
    # the document with the wrong currency has no evidence for it: never auto-approved
    assert report.auto_approved <= 0.5
    assert report.auto_approved == 0 or report.auto_approved_exact_match == 1.0
    # cross-fitted on 2 folds of 1 document: each document's fields mapped by the other's fit
    assert report.cross_fit_folds == 2 and report.reliability_cross_fitted is not None
    held_out = cross_fitted(run, 2)
    assert len(held_out) == 10 and report.ece_cross_fitted == expected_calibration_error(held_out)
    with pytest.raises(InvalidRequestError) as exc:
        cross_fitted(run, 3)
    assert exc.value.param == "cross_fit"


def test_a_calibration_fitted_on_one_set_is_applied_to_another(tmp_path: Path) -> None:
    fit_set, eval_set = tmp_path / "fit", tmp_path / "eval"
    generate_invoices(fit_set, 4, seed=11)
    generate_invoices(eval_set, 3, seed=12)
    raw = IdpSettings(state_dir=tmp_path / "fit-state", calibration="none")
    store = IdpStore(raw.resolved_database_url())
    calibration, run = fit_calibration(Processor(raw, _answering(fit_set, 2), store), fit_set)
    store.close()
    assert run.documents == 4 and len(run.results) == 20
    entry = calibration.schemas["invoice"]
    assert entry.model == "m" and "seed 11" in entry.fitted_on and entry.overall.n == 20
    path = tmp_path / "cal.json"
    calibration.write(path)
    assert Calibration.read(path).schemas["invoice"].to_dict() == entry.to_dict()

    settings = IdpSettings(state_dir=tmp_path / "eval-state", calibration=str(path))
    store = IdpStore(settings.resolved_database_url())
    report, _ = run_eval(Processor(settings, _answering(eval_set, 3), store), eval_set)
    store.close()
    assert report.calibration == str(path) and report.calibrated_fields == 1.0
    assert report.field_accuracy["currency"] == 2 / 3
    # the wrong currencies have no evidence (raw 0), which the fit learnt is usually wrong
    [doc] = [d for d in _documents(settings) if d["values"]["currency"] == "JPY"]
    currency = doc["fields"]["currency"]
    assert currency["raw_confidence"] == 0.0 and currency["calibrated"] is True
    assert currency["confidence"] == entry.overall(0.0) and currency["confidence"] < 0.5


def _documents(settings: IdpSettings) -> list[dict[str, Any]]:
    store = IdpStore(settings.resolved_database_url())
    try:
        return ReviewQueue(store).list(None, 100)
    finally:
        store.close()
