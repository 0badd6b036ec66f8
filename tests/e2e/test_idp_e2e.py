"""IDP end to end: generated documents → real tesseract / real text layer → the real default
model through `inferstack serve` (json_schema grammar) → scores, evidence, decision → SQLite →
the review API served by `inferstack idp serve`. The model is a 270M base model: the test
asserts structure, schema validity and evidence, not accuracy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from inferstack.idp.evidence import normalise
from inferstack.idp.schemas import BUILTIN_SCHEMAS
from support.idp_docs import (
    INVOICE_LINES,
    render_image,
    render_scanned_pdf_pages,
    run_idp,
    write_text_pdf,
)
from support.servers import RunningServer, free_port

pytestmark = pytest.mark.e2e


# Runs `inferstack idp ARGS…` in this process and prints its peak resident set (KiB) last.
_PEAK_RSS = """
import resource, sys
from inferstack.cli.main import main
code = main(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


@pytest.fixture(scope="module")
def processed(
    chat_server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("idp")
    png, pdf = root / "invoice.png", root / "invoice.pdf"
    render_image(png, INVOICE_LINES)
    write_text_pdf(png.with_suffix(".pdf"), INVOICE_LINES)
    common = [
        "--schema",
        "invoice",
        "--url",
        chat_server.url,
        "--chat-model",
        chat_server.model,
        "--state-dir",
        str(root / "state"),
        "--threshold",
        "1.0",
        "--json",
    ]
    first = run_idp("process", str(png), str(pdf), *common)
    assert first.returncode == 0, first.stderr
    again = run_idp("process", str(png), *common)
    assert again.returncode == 0, again.stderr
    return {
        "root": root,
        "url": chat_server.url,
        "model": chat_server.model,
        "docs": json.loads(first.stdout)["documents"],
        "again": json.loads(again.stdout)["documents"],
    }


def test_every_document_satisfies_the_schema_with_scored_fields(processed: dict[str, Any]) -> None:
    schema = BUILTIN_SCHEMAS["invoice"]
    docs = processed["docs"]
    assert [d["filename"] for d in docs] == ["invoice.png", "invoice.pdf"]
    for doc in docs:
        assert not list(Draft202012Validator(schema).iter_errors(doc["values"]))
        assert list(doc["fields"]) == list(schema["properties"])
        assert doc["pages"] == 1 and doc["reused"] is False
        for info in doc["fields"].values():
            assert 0.0 <= info["confidence"] <= 1.0
        # threshold 1.0: only a document whose every field is certain is auto-approved
        expected = "auto_approved" if doc["min_confidence"] >= 1.0 else "pending"
        assert doc["status"] == expected
        assert doc["min_confidence"] == min(f["confidence"] for f in doc["fields"].values())


def test_evidence_words_are_on_the_page_and_read_like_the_value(processed: dict[str, Any]) -> None:
    found = 0
    for doc in processed["docs"]:
        for info in doc["fields"].values():
            ev = info["evidence"]
            if ev is None:
                assert info["confidence"] == 0.0
                continue
            found += 1
            assert ev["page"] == 1 and ev["agreement"] >= 0.5
            assert ev["text"].split() == [w["text"] for w in ev["words"]]
            assert any(
                normalise(w["text"]) in normalise(line) or normalise(line) in normalise(ev["text"])
                for w in ev["words"]
                for line in INVOICE_LINES
            )
            left, top, width, height = ev["box"]
            assert width > 0 and height > 0 and left >= 0 and top >= 0
            for w in ev["words"]:
                wl, wt, ww, wh = w["box"]
                assert left <= wl and top <= wt
                assert wl + ww <= left + width and wt + wh <= top + height
    # a model that copies nothing would leave every field without evidence
    assert found >= 1


def test_reprocessing_the_same_file_is_idempotent(processed: dict[str, Any]) -> None:
    [again] = processed["again"]
    first = processed["docs"][0]
    assert again["reused"] is True and again["id"] == first["id"]
    assert again["values"] == first["values"]


@pytest.fixture(scope="module")
def review_url(processed: dict[str, Any]) -> Iterator[str]:
    port = free_port()
    log = processed["root"] / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "inferstack.cli.main",
                "idp",
                "serve",
                "--port",
                str(port),
                "--state-dir",
                str(processed["root"] / "state"),
                "--url",
                processed["url"],
                "--chat-model",
                processed["model"],
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_review_queue_round_trip_over_http(processed: dict[str, Any], review_url: str) -> None:
    # A correction re-scores the document: on a loaded machine that takes more than httpx's
    # default 5 s.
    http = httpx.Client(timeout=120)
    pending = http.get(f"{review_url}/v1/idp/documents", params={"status": "pending"}).json()[
        "data"
    ]
    assert pending, "threshold 1.0 leaves OCR'd documents for review"
    confidences = [d["min_confidence"] for d in pending]
    assert confidences == sorted(confidences)
    doc = pending[0]
    url = f"{review_url}/v1/idp/documents/{doc['id']}"
    [page] = http.get(f"{url}/pages").json()["data"]
    assert page["number"] == 1 and page["lines"]
    assert any("INV-2041" in line["text"] for line in page["lines"]), page["lines"]
    claimed = http.post(f"{url}/claim", json={"reviewer": "e2e"})
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["status"] == "in_progress" and claimed.json()["claimed_by"] == "e2e"
    taken = http.post(f"{url}/approve", json={"reviewer": "someone-else"})
    assert taken.status_code == 409 and taken.json()["error"]["param"] == "document_id"
    r = http.post(
        f"{url}/correct", json={"reviewer": "e2e", "corrections": {"invoice_number": "INV-2041"}}
    )
    assert r.status_code == 200, r.text
    r = http.post(
        f"{url}/approve", json={"reviewer": "e2e", "corrections": {"total_amount": "123.45"}}
    )
    assert r.status_code == 200, r.text
    approved = r.json()
    assert approved["status"] == "approved"
    assert approved["values"]["invoice_number"] == "INV-2041"
    assert approved["values"]["total_amount"] == "123.45"
    assert [h["action"] for h in approved["history"]] == [
        "processed",
        "claim",
        "correct",
        "approve",
    ]
    saved = http.post(f"{url}/ground-truth", json={"reviewer": "e2e"})
    assert saved.status_code == 200, saved.text
    truth = saved.json()["ground_truth"]["values"]
    assert truth["invoice_number"] == "INV-2041" and truth["total_amount"] == "123.45"
    # the database kept it: a fresh read through the API, then the kept file through the
    # real model again
    fetched = http.get(url).json()
    assert fetched["values"] == approved["values"] and fetched["ground_truth"]["values"] == truth
    again = http.post(f"{url}/reprocess", json={"reviewer": "e2e"}, timeout=600)
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["history"][-1]["action"] == "reprocess"
    assert body["history"][-1]["changes"]["from"]["values"] == approved["values"]
    assert body["status"] in ("pending", "auto_approved")
    assert not list(Draft202012Validator(BUILTIN_SCHEMAS["invoice"]).iter_errors(body["values"]))
    assert body["ground_truth"]["values"] == truth  # reprocessing leaves the truth alone
    exported = run_idp(
        "ground-truth",
        str(processed["root"] / "truth"),
        "--schema",
        "invoice",
        "--state-dir",
        str(processed["root"] / "state"),
    )
    assert exported.returncode == 0, exported.stderr
    labels = json.loads(Path(exported.stdout.strip()).read_text())
    assert list(labels["documents"].values()) == [truth]


def test_eval_on_a_generated_labelled_set(chat_server: RunningServer, tmp_path: Path) -> None:
    folder = tmp_path / "set"
    made = run_idp("generate", str(folder), "--count", "2", "--seed", "3")
    assert made.returncode == 0, made.stderr
    ran = run_idp(
        "eval",
        str(folder),
        "--url",
        chat_server.url,
        "--chat-model",
        chat_server.model,
        "--json",
        "--concurrency",
        "2",
    )
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert report["documents"] == 2 and report["pages"] == 2
    assert set(report["field_accuracy"]) == set(BUILTIN_SCHEMAS["invoice"]["properties"])
    for key in ("overall_field_accuracy", "exact_match", "ece"):
        assert 0.0 <= report[key] <= 1.0
    assert report["pages_per_second"] > 0
    # eval never writes into a state dir: the set folder holds only what generate wrote
    names = json.loads((folder / "labels.json").read_text())["documents"]
    assert sorted(p.name for p in folder.iterdir()) == sorted([*names, "labels.json"])


def test_calibrate_on_one_set_and_evaluate_on_another(
    chat_server: RunningServer, tmp_path: Path
) -> None:
    model = ["--url", chat_server.url, "--chat-model", chat_server.model, "--concurrency", "2"]
    for name, seed in (("fit", "5"), ("held-out", "6")):
        made = run_idp("generate", str(tmp_path / name), "--count", "2", "--seed", seed)
        assert made.returncode == 0, made.stderr
    out = tmp_path / "calibration.json"
    fitted = run_idp("calibrate", str(tmp_path / "fit"), "--out", str(out), *model)
    assert fitted.returncode == 0, fitted.stderr
    entry = json.loads(out.read_text())["schemas"]["invoice"]
    # 2 documents x 5 fields, less any a validator refuted (those stay at 0 and are not fitted)
    assert 0 < entry["overall"]["n"] <= 10 and "seed 5" in entry["fitted_on"]
    ran = run_idp("eval", str(tmp_path / "held-out"), "--calibration", str(out), "--json", *model)
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    # fitted with this server's model, so every field of the held-out set that no validator
    # refuted goes through it
    assert report["calibration"] == str(out) and report["calibrated_fields"] == 1.0
    assert 0.0 <= report["ece"] <= 1.0 and 0.0 <= report["ece_raw"] <= 1.0


def _peak_rss_kib(pdf: Path, server: RunningServer, state: Path) -> tuple[int, dict[str, Any]]:
    args = ["--json", "--url", server.url, "--chat-model", server.model, "--state-dir", str(state)]
    ran = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, "idp", "process", str(pdf), *args],
        capture_output=True,
        text=True,
        timeout=900,
        # 100 dpi renders these pages at the size they were drawn; orientation detection
        # would only double the OCR time here
        env={**os.environ, "INFERSTACK_IDP_DPI": "100", "INFERSTACK_IDP_OCR_ORIENTATION": "0"},
    )
    assert ran.returncode == 0, ran.stderr
    [doc] = json.loads(ran.stdout)["documents"]
    return int(ran.stderr.strip().splitlines()[-1]), doc


def test_a_200_page_scanned_pdf_processes_within_a_fixed_memory_bound(
    chat_server: RunningServer, tmp_path: Path
) -> None:
    """Pages are rendered, OCR'd and dropped one at a time: 200 pages peak within a fixed
    bound of what one page does. Keeping the renders would add 200 x 1.4 MB (the 600x800
    page at 100 dpi as RGB; pdfium's bitmap is larger still), far past the bound."""
    one, many = tmp_path / "one.pdf", tmp_path / "many.pdf"
    render_scanned_pdf_pages(one, INVOICE_LINES, 1)
    render_scanned_pdf_pages(many, INVOICE_LINES, 200)
    base, _ = _peak_rss_kib(one, chat_server, tmp_path / "one")
    peak, doc = _peak_rss_kib(many, chat_server, tmp_path / "many")
    assert doc["pages"] == 200
    assert not list(Draft202012Validator(BUILTIN_SCHEMAS["invoice"]).iter_errors(doc["values"]))
    assert peak - base < 48 * 1024, (base, peak)


def test_a_failing_validator_routes_to_review_whatever_the_threshold(
    chat_server: RunningServer, tmp_path: Path
) -> None:
    png = tmp_path / "invoice.png"
    render_image(png, INVOICE_LINES)
    config = tmp_path / "idp.yaml"
    # no currency the model can copy from this invoice is in the table
    config.write_text("reference_tables:\n  invoice.currency: [XTS]\n")
    ran = run_idp(
        "process",
        str(png),
        "--config",
        str(config),
        "--threshold",
        "0",
        "--url",
        chat_server.url,
        "--chat-model",
        chat_server.model,
        "--state-dir",
        str(tmp_path / "state"),
        "--json",
    )
    assert ran.returncode == 0, ran.stderr
    [doc] = json.loads(ran.stdout)["documents"]
    currency = doc["fields"]["currency"]
    assert currency["validation_failed"] is True and currency["confidence"] == 0.0
    assert doc["status"] == "pending"
    assert any(r.startswith("currency: refuted") and "reference table" in r for r in doc["reasons"])
