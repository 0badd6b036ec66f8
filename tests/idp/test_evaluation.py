"""The labelled set generator and the evaluation's arithmetic (accuracy, exact match, ECE),
run through the real pipeline (real tesseract) against an in-memory chat server that answers
from the labels for some documents and wrongly for others."""

from __future__ import annotations

import json
import math
from pathlib import Path

import httpx

from inferstack.idp.evaluation import expected_calibration_error, run_eval
from inferstack.idp.pipeline import Processor
from inferstack.idp.settings import IdpSettings
from inferstack.idp.store import IdpStore
from inferstack.idp.synth import generate_invoices


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_not() -> None:
    assert expected_calibration_error([]) == 0.0
    assert expected_calibration_error([(1.0, True), (0.0, False)]) == 0.0
    half = [(0.55, True), (0.55, False)]  # bin [0.5, 0.6): accuracy 0.5, confidence 0.55
    assert math.isclose(expected_calibration_error(half), 0.05)
    assert math.isclose(expected_calibration_error([(0.95, False)]), 0.95)


def test_generated_set_is_seeded_and_labelled(tmp_path: Path) -> None:
    a = json.loads(generate_invoices(tmp_path / "a", 3, seed=7).read_text())
    b = json.loads(generate_invoices(tmp_path / "b", 3, seed=7).read_text())
    assert a == b and a["schema"] == "invoice" and len(a["documents"]) == 3
    assert all((tmp_path / "a" / name).is_file() for name in a["documents"])


def test_eval_counts_right_fields_and_exact_documents(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    labels = json.loads(generate_invoices(folder, 2, seed=1).read_text())["documents"]
    truth = list(labels.values())

    def handle(request: httpx.Request) -> httpx.Response:
        prompt = json.loads(request.content)["messages"][-1]["content"]
        # the first document's number is in the prompt: answer it right; the other, one wrong
        right = truth[0] if truth[0]["invoice_number"] in prompt else truth[1]
        answer = dict(right)
        if right is truth[1]:
            answer["currency"] = "JPY"
        message = {"role": "assistant", "content": json.dumps(answer)}
        choice = {"index": 0, "finish_reason": "stop", "message": message}
        return httpx.Response(200, json={"model": "m", "choices": [choice]})

    settings = IdpSettings(state_dir=tmp_path / "state")
    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://m/v1")
    store = IdpStore(settings.resolved_database_url())
    report = run_eval(Processor(settings, client, store), folder, concurrency=2)
    store.close()
    assert report.documents == 2 and report.pages == 2
    assert report.field_accuracy["currency"] == 0.5
    assert report.field_accuracy["invoice_number"] == 1.0
    assert math.isclose(report.overall_field_accuracy, 9 / 10)
    assert report.exact_match == 0.5
    assert 0.0 <= report.ece <= 1.0 and report.pages_per_second > 0
