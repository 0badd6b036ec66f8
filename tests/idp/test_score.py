"""Evidence matching, per-field token probabilities and the decision, on hand-made pages."""

from __future__ import annotations

import json
import math

from inferstack.idp.decide import AUTO_APPROVED, PENDING, decide
from inferstack.idp.document import Line, Page, Word
from inferstack.idp.evidence import find_evidence
from inferstack.idp.extract import Extraction
from inferstack.idp.score import score_fields, value_token_probability


def _page(rows: list[list[tuple[str, float]]], number: int = 1) -> Page:
    page = Page(number, 1000, 1000, "ocr")
    for y, row in enumerate(rows):
        words = [
            Word(text, (100 * x, 50 * y, 90, 30), conf, number)
            for x, (text, conf) in enumerate(row)
        ]
        page.lines.append(Line(words))
    return page


PAGE = _page(
    [
        [("Invoice", 0.95), ("number:", 0.9), ("INV-2041", 0.8)],
        [("Vendor:", 0.9), ("Acme", 0.96), ("Tools", 0.94), ("Ltd", 0.5)],
    ]
)


def test_evidence_is_the_run_of_words_that_reads_like_the_value() -> None:
    ev = find_evidence("Acme Tools Ltd", [PAGE])
    assert ev is not None
    assert ev.text == "Acme Tools Ltd" and ev.agreement == 1.0
    assert ev.box == (100, 50, 290, 30)
    assert math.isclose(ev.ocr_confidence, (0.96 + 0.94 + 0.5) / 3)
    near = find_evidence("INV-2O41", [PAGE])  # OCR-style confusion still finds it
    assert near is not None and near.text == "INV-2041" and 0.8 < near.agreement < 1
    assert find_evidence("Zebra crossing", [PAGE]) is None
    assert find_evidence("", [PAGE]) is None


def test_value_token_probability_covers_only_the_value_tokens() -> None:
    content = '{"a": "xy", "b": "z"}'
    tokens = [
        ('{"', -0.1),
        ("a", -0.1),
        ('": "', -0.1),
        ("x", math.log(0.5)),
        ("y", math.log(0.5)),
        ('", "', -0.1),
        ("b", -0.1),
        ('": "', -0.1),
        ("z", math.log(0.25)),
        ('"}', -0.1),
    ]
    assert "".join(t for t, _ in tokens) == content
    assert math.isclose(value_token_probability(content, "a", tokens) or 0, 0.5)
    assert math.isclose(value_token_probability(content, "b", tokens) or 0, 0.25)
    assert value_token_probability(content, "missing", tokens) is None


def test_scores_combine_agreement_ocr_and_logprobs_when_present() -> None:
    values = {"vendor_name": "Acme Tools Ltd", "invoice_number": "nowhere"}
    content = json.dumps(values)
    plain = score_fields(Extraction(values, content, None, "m"), [PAGE])
    vendor, number = plain
    assert vendor.token_probability is None
    assert math.isclose(vendor.confidence, vendor.agreement * (vendor.ocr_confidence or 0))
    assert number.evidence is None and number.confidence == 0.0
    assert number.reasons == ["no supporting text in the document"]
    tokens = [(c, math.log(0.9)) for c in content]
    with_lp = score_fields(Extraction(values, content, tokens, "m"), [PAGE])
    assert math.isclose(with_lp[0].token_probability or 0, 0.9)
    assert math.isclose(with_lp[0].confidence, vendor.confidence * 0.9)


def test_any_field_below_the_threshold_sends_the_document_to_review() -> None:
    scores = score_fields(Extraction({"v": "Acme Tools"}, '{"v": "Acme Tools"}', None, "m"), [PAGE])
    assert decide(scores, 0.9).status == AUTO_APPROVED
    low = decide(scores, 0.99)
    assert low.status == PENDING and low.reasons[0].startswith("v: confidence")
    assert decide([], 0.5).status == PENDING
