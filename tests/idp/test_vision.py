"""The vision reader against a stand-in vision model that speaks real OpenAI HTTP and answers
from the pixels it is sent (it OCRs them itself, tests/support/vision_standin.py): pages go as
image_url parts in requests that OpenAI's request schema accepts, the lines come back into the
same pipeline (extraction, evidence, scores), and every failure of the model is a clear error
naming the document and the page, with OCR instead only when that fallback was asked for."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from inferstack.cli.main import main
from inferstack.errors import UpstreamError
from inferstack.idp.document import Box
from inferstack.idp.evaluation import fit_calibration
from inferstack.idp.files import file_sha256
from inferstack.idp.pipeline import Processor
from inferstack.idp.read import read_document
from inferstack.idp.schemas import BUILTIN_SCHEMAS
from inferstack.idp.score import NO_READER_CONFIDENCE
from inferstack.idp.settings import IdpSettings
from inferstack.idp.store import IdpStore
from inferstack.idp.synth import generate_invoices
from inferstack.idp.vision import LINES_SCHEMA, VisionReader, encode_page
from support.idp_docs import (
    INVOICE_FIELDS,
    INVOICE_LINES,
    render_image,
    render_scanned_pdf_pages,
    write_text_pdf,
)
from support.vision_standin import VisionStandIn, image_parts

PLANTED = INVOICE_FIELDS


@pytest.fixture
def standin() -> Iterator[VisionStandIn]:
    server = VisionStandIn()
    server.start()
    yield server
    server.stop()


def _settings(tmp_path: Path, base_url: str, **extra: object) -> IdpSettings:
    values: dict[str, object] = {
        "state_dir": tmp_path / "state",
        "chat_base_url": base_url,
        "reader": "vision",
        "vision_model": "standin-vision",
        **extra,
    }
    return IdpSettings(**values)  # type: ignore[arg-type]


def _client(settings: IdpSettings) -> httpx.Client:
    return httpx.Client(base_url=settings.chat_base_url, timeout=settings.request_timeout)


def _covers(outer: Box | None, inner: Box, slack: int = 8) -> bool:
    assert outer is not None
    return (
        outer[0] <= inner[0] + slack
        and outer[1] <= inner[1] + slack
        and outer[0] + outer[2] >= inner[0] + inner[2] - slack
        and outer[1] + outer[3] >= inner[1] + inner[3] - slack
    )


def _sent_image(body: dict[str, object]) -> Image.Image:
    [part] = image_parts(body)  # type: ignore[arg-type]
    header, _, data = part["image_url"]["url"].partition(",")
    assert header == "data:image/png;base64"
    return Image.open(io.BytesIO(base64.b64decode(data)))


def test_a_page_goes_as_an_image_url_part_and_comes_back_as_lines_with_boxes(
    tmp_path: Path, standin: VisionStandIn
) -> None:
    path = tmp_path / "invoice.png"
    drawn = render_image(path, INVOICE_LINES)  # 900 x 380
    settings = _settings(tmp_path, standin.base_url, vision_max_side=600)
    with _client(settings) as client:
        [page] = list(read_document(path, reader=VisionReader(client, settings)))
    assert (page.source, page.number, page.width, page.height) == ("vision", 1, 900, 380)
    assert [line.text for line in page.lines] == INVOICE_LINES
    for line, box in zip(page.lines, drawn, strict=True):
        # the model's box, in the 600-pixel image it was sent, scaled back onto the page
        assert _covers(line.box, box), (line.text, line.box, box)
        assert all(w.box == line.box and w.confidence is None for w in line.words)

    [body] = standin.requests
    assert standin.spec_errors == [[]]  # OpenAI's CreateChatCompletionRequest accepts it
    assert body["model"] == "standin-vision"
    user = body["messages"][1]
    assert user["role"] == "user" and [p["type"] for p in user["content"]] == ["text", "image_url"]
    assert "600x253 pixels" in user["content"][0]["text"]
    assert _sent_image(body).size == (600, 253)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "page_lines", "schema": LINES_SCHEMA, "strict": True},
    }


def test_a_document_read_by_vision_is_extracted_scored_and_stored(
    tmp_path: Path, standin: VisionStandIn
) -> None:
    path = tmp_path / "scan.pdf"
    render_scanned_pdf_pages(path, INVOICE_LINES, 2)
    settings = _settings(tmp_path, standin.base_url)
    store = IdpStore(settings.resolved_database_url())
    with _client(settings) as client:
        doc = Processor(settings, client, store).process(
            path, "invoice", BUILTIN_SCHEMAS["invoice"]
        )
    assert doc["values"] == PLANTED  # read from the pixels, then extracted from that text
    assert doc["pages"] == 2
    vision_calls = [b for b in standin.requests if image_parts(b)]
    assert len(vision_calls) == 2 and all(not errs for errs in standin.spec_errors)
    [extraction] = [b for b in standin.requests if not image_parts(b)]
    assert "Vendor: Acme Tools Ltd" in extraction["messages"][1]["content"]
    for name, info in doc["fields"].items():
        evidence = info["evidence"]
        assert evidence["source"] == "vision" and evidence["agreement"] == 1.0, name
        assert evidence["ocr_confidence"] is None and info["ocr_confidence"] is None
        assert evidence["box"] is not None and evidence["box"][2] > 0
        # no OCR confidence and no logprobs from the stand-in: the score is the agreement
        assert info["raw_confidence"] == info["agreement"] == 1.0
        assert NO_READER_CONFIDENCE in info["reasons"]
        # the shipped calibration was fitted on OCR'd pages by another model: not applied
        assert info["calibrated"] is False
    assert doc["status"] == "auto_approved"
    pages = store.pages(doc["id"])
    assert [p.layout["source"] for p in pages] == ["vision", "vision"]
    word = pages[0].layout["lines"][1]["words"][-1]
    assert word["text"] == "INV-2041" and word["confidence"] is None
    store.close()


def test_lines_without_boxes_give_evidence_that_has_no_box(
    tmp_path: Path, standin: VisionStandIn
) -> None:
    standin.mode = "no-boxes"
    path = tmp_path / "invoice.png"
    render_image(path, INVOICE_LINES)
    settings = _settings(tmp_path, standin.base_url, calibration="none")
    store = IdpStore(settings.resolved_database_url())
    with _client(settings) as client:
        doc = Processor(settings, client, store).process(
            path, "invoice", BUILTIN_SCHEMAS["invoice"]
        )
    store.close()
    assert doc["values"] == PLANTED
    ev = doc["fields"]["vendor_name"]["evidence"]
    assert ev["text"] == "Acme Tools Ltd" and ev["box"] is None
    assert all(w["box"] is None for w in ev["words"])


def test_a_text_layer_is_read_as_it_is_without_asking_the_vision_model(
    tmp_path: Path, standin: VisionStandIn
) -> None:
    path = tmp_path / "invoice.pdf"
    write_text_pdf(path, INVOICE_LINES)
    settings = _settings(tmp_path, standin.base_url)
    with _client(settings) as client:
        [page] = list(read_document(path, reader=VisionReader(client, settings)))
    assert page.source == "text-layer" and standin.requests == []


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (
            "400",
            "answered 400 invalid_request_error: this model accepts text only "
            "(param messages.1.content.1)",
        ),
        ("500", "answered 500 server_error: the model crashed"),
        ("garbage", "answered no JSON: 'here are the lines: INVOICE'"),
        ("slow", "did not answer within 0.5 s (request_timeout): ReadTimeout"),
    ],
)
def test_a_failing_vision_model_is_an_error_naming_the_document_and_page(
    tmp_path: Path, standin: VisionStandIn, mode: str, expected: str
) -> None:
    standin.mode = mode
    path = tmp_path / "invoice.tif"
    render_image(path, INVOICE_LINES, pages=2)
    settings = _settings(tmp_path, standin.base_url, request_timeout=0.5)
    store = IdpStore(settings.resolved_database_url())
    with _client(settings) as client, pytest.raises(UpstreamError) as info:
        Processor(settings, client, store).process(path, "invoice", BUILTIN_SCHEMAS["invoice"])
    assert info.value.message == f"invoice.tif page 1: vision model 'standin-vision' {expected}"
    assert info.value.status == 502
    assert store.find(file_sha256(path), "invoice") is None  # nothing stored, no OCR instead
    assert len(standin.requests) == 1  # the document stopped at its first page
    store.close()


def test_an_unreachable_vision_model_is_a_clear_error(tmp_path: Path) -> None:
    server = VisionStandIn()
    url = server.start()
    server.stop()  # nothing listens there now
    path = tmp_path / "invoice.png"
    render_image(path, INVOICE_LINES)
    settings = _settings(tmp_path, url)
    with _client(settings) as client, pytest.raises(UpstreamError) as info:
        list(read_document(path, reader=VisionReader(client, settings)))
    assert info.value.message.startswith(
        f"invoice.png page 1: vision model 'standin-vision' at {url} unreachable"
    )


def test_ocr_reads_a_page_the_vision_model_failed_only_when_asked(
    tmp_path: Path, standin: VisionStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    standin.mode = "500"
    path = tmp_path / "invoice.png"
    render_image(path, INVOICE_LINES)
    settings = _settings(tmp_path, standin.base_url, vision_fallback="ocr", calibration="none")
    store = IdpStore(settings.resolved_database_url())
    with caplog.at_level(logging.WARNING), _client(settings) as client:
        doc = Processor(settings, client, store).process(
            path, "invoice", BUILTIN_SCHEMAS["invoice"]
        )
    [page] = store.pages(doc["id"])
    store.close()
    assert page.layout["source"] == "ocr"
    assert page.layout["fallback"].startswith("invoice.png page 1: vision model")
    assert "500 server_error" in page.layout["fallback"]
    assert "OCR reads that page instead" in caplog.text
    assert doc["values"] == PLANTED  # the stand-in's extraction, on tesseract's text
    assert doc["fields"]["invoice_number"]["ocr_confidence"] > 0.5


def test_the_vision_reader_needs_a_vision_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match="vision_model"):
        IdpSettings(reader="vision")
    path = tmp_path / "invoice.png"
    render_image(path, INVOICE_LINES)
    argv = ["idp", "process", str(path), "--reader", "vision", "--state-dir", str(tmp_path)]
    assert main(argv) == 2  # a clear message, no traceback
    assert "reader 'vision' needs vision_model" in capsys.readouterr().err


def test_page_images_are_encoded_for_the_wire() -> None:
    noisy = Image.effect_noise((1200, 1200), 120).convert("RGB")
    sent = encode_page(noisy, 1600)  # auto: a PNG over 1 MiB goes as JPEG
    assert sent.url.startswith("data:image/jpeg;base64,") and sent.scale == 1.0
    clear = Image.new("RGBA", (3200, 800), (0, 0, 0, 0))
    sent = encode_page(clear, 1600, "png")
    assert sent.url.startswith("data:image/png;base64,")
    assert (sent.width, sent.height, sent.scale) == (1600, 400, 0.5)
    decoded = Image.open(io.BytesIO(base64.b64decode(sent.url.partition(",")[2])))
    assert decoded.convert("RGB").getpixel((10, 10)) == (255, 255, 255)  # transparency → white


def test_a_calibration_fitted_on_vision_read_documents_maps_only_vision_read_ones(
    tmp_path: Path, standin: VisionStandIn
) -> None:
    labels = generate_invoices(tmp_path / "set", 4, seed=3)
    settings = _settings(tmp_path, standin.base_url, calibration="none")
    store = IdpStore(settings.resolved_database_url())
    with _client(settings) as client:
        calibration, run = fit_calibration(Processor(settings, client, store), labels.parent, 2)
    store.close()
    entry = calibration.schemas["invoice"]
    assert (entry.reader, entry.model, run.documents) == ("vision", "standin-vision", 4)
    path = tmp_path / "vision-cal.json"
    calibration.write(path)

    scan = tmp_path / "invoice.png"
    render_image(scan, INVOICE_LINES)
    for reader, calibrated in (("vision", True), ("ocr", False)):
        mapped = _settings(
            tmp_path / reader, standin.base_url, reader=reader, calibration=str(path)
        )
        store = IdpStore(mapped.resolved_database_url())
        with _client(mapped) as client:
            doc = Processor(mapped, client, store).process(
                scan, "invoice", BUILTIN_SCHEMAS["invoice"]
            )
        store.close()
        assert {f["calibrated"] for f in doc["fields"].values()} == {calibrated}, reader
