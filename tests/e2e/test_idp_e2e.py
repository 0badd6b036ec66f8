"""IDP end to end: generated documents → real tesseract / real text layer → the real default
model through `inferstack serve` (json_schema grammar) → scores, evidence, decision → SQLite →
the review API served by `inferstack idp serve`. The model is a 270M base model: the test
asserts structure, schema validity and evidence, not accuracy."""

from __future__ import annotations

import json
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
from support.idp_docs import INVOICE_LINES, render_image, write_text_pdf
from support.servers import RunningServer, free_port

pytestmark = pytest.mark.e2e


def _idp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferstack.cli.main", "idp", *args],
        capture_output=True,
        text=True,
        timeout=900,
    )


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
    first = _idp("process", str(png), str(pdf), *common)
    assert first.returncode == 0, first.stderr
    again = _idp("process", str(png), *common)
    assert again.returncode == 0, again.stderr
    return {
        "root": root,
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
    pending = httpx.get(f"{review_url}/v1/idp/documents", params={"status": "pending"}).json()[
        "data"
    ]
    assert pending, "threshold 1.0 leaves OCR'd documents for review"
    confidences = [d["min_confidence"] for d in pending]
    assert confidences == sorted(confidences)
    doc = pending[0]
    r = httpx.post(
        f"{review_url}/v1/idp/documents/{doc['id']}/approve",
        json={"reviewer": "e2e", "corrections": {"invoice_number": "INV-2041"}},
    )
    assert r.status_code == 200, r.text
    approved = r.json()
    assert approved["status"] == "approved"
    assert approved["values"]["invoice_number"] == "INV-2041"
    assert [h["action"] for h in approved["history"]] == ["processed", "approve"]
    fetched = httpx.get(f"{review_url}/v1/idp/documents/{doc['id']}").json()
    assert fetched["values"]["invoice_number"] == "INV-2041"


def test_eval_on_a_generated_labelled_set(chat_server: RunningServer, tmp_path: Path) -> None:
    folder = tmp_path / "set"
    made = _idp("generate", str(folder), "--count", "2", "--seed", "3")
    assert made.returncode == 0, made.stderr
    ran = _idp(
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
    assert sorted(p.name for p in folder.iterdir()) == [
        "invoice-0000.png",
        "invoice-0001.png",
        "labels.json",
    ]
