"""The pipeline around one document, with real tesseract and a real SQLite file against an
in-memory chat server: the file is kept by hash; a reviewer's correction becomes ground truth,
exported as a labelled folder that the evaluation reads; reprocessing replaces the extraction
and records what it was."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from inferstack.idp.evaluation import run_eval
from inferstack.idp.files import file_sha256
from inferstack.idp.ground_truth import export_ground_truth
from inferstack.idp.pipeline import Processor
from inferstack.idp.review import ReviewQueue
from inferstack.idp.schemas import BUILTIN_SCHEMAS
from inferstack.idp.settings import IdpSettings
from inferstack.idp.store import IdpStore
from support.idp_docs import INVOICE_FIELDS, INVOICE_LINES, render_scan

PLANTED = INVOICE_FIELDS


class Model:
    """Answers every extraction with ``answer`` (changeable between calls)."""

    def __init__(self) -> None:
        self.answer = dict(PLANTED)

    def handle(self, request: httpx.Request) -> httpx.Response:
        message = {"role": "assistant", "content": json.dumps(self.answer)}
        choice = {"index": 0, "finish_reason": "stop", "message": message}
        return httpx.Response(200, json={"model": "m", "choices": [choice]})


def test_a_corrected_document_becomes_ground_truth_and_is_reprocessed(tmp_path: Path) -> None:
    scan = tmp_path / "inbox" / "scan.jpg"
    scan.parent.mkdir()
    render_scan(scan, INVOICE_LINES, turn=180, seed=4)
    settings = IdpSettings(state_dir=tmp_path / "state", calibration="none", approve_threshold=0.95)
    model = Model()
    model.answer["total_amount"] = "128.45"  # misread by the model
    client = httpx.Client(transport=httpx.MockTransport(model.handle), base_url="http://m/v1")
    store = IdpStore(settings.resolved_database_url())
    processor = Processor(settings, client, store)
    doc = processor.process(scan, "invoice", BUILTIN_SCHEMAS["invoice"])
    kept = settings.files_dir / f"{file_sha256(scan)}.jpg"
    assert kept.read_bytes() == scan.read_bytes() and kept.stat().st_mode & 0o777 == 0o600
    total = doc["fields"]["total_amount"]
    assert total["evidence"] is None or total["evidence"]["agreement"] < 1.0
    assert doc["status"] == "pending"
    assert doc["fields"]["vendor_name"]["evidence"]["agreement"] == 1.0  # read upright

    queue = ReviewQueue(store)
    [page] = queue.pages(doc["id"])
    assert page["number"] == 1 and page["source"] == "ocr" and page["rotation"] == 180
    words = [w for line in page["lines"] for w in line["words"]]
    [number] = [w for w in words if w["text"] == "INV-2041"]
    assert number["box"][2] > 0 and 0 < number["confidence"] <= 1
    queue.approve(doc["id"], "ana", {"total_amount": "123.45"})
    queue.save_ground_truth(doc["id"], "ana")
    labels = export_ground_truth(store, settings.files_dir, tmp_path / "truth", "invoice")
    exported = json.loads(labels.read_text())
    [(name, values)] = exported["documents"].items()
    assert values == PLANTED and exported["schema"] == "invoice"
    assert (labels.parent / name).read_bytes() == scan.read_bytes()

    model.answer = dict(PLANTED)  # a better model now
    processor.reprocess(doc["id"], "ana")
    after = queue.get(doc["id"])
    assert after["values"] == PLANTED and after["history"][-1]["action"] == "reprocess"
    change = after["history"][-1]["changes"]
    assert change["from"]["status"] == "approved" and change["to"]["status"] == after["status"]
    assert change["from"]["values"]["total_amount"] == "123.45"  # the reviewer's value
    assert after["ground_truth"]["values"] == PLANTED
    assert [p["number"] for p in queue.pages(doc["id"])] == [1]  # replaced, not added

    # the exported folder is a labelled set: the evaluation measures against it
    eval_settings = IdpSettings(state_dir=tmp_path / "eval", calibration="none")
    eval_store = IdpStore(eval_settings.resolved_database_url())
    report, _ = run_eval(Processor(eval_settings, client, eval_store), labels.parent)
    eval_store.close()
    store.close()
    assert report.documents == 1 and report.exact_match == 1.0
