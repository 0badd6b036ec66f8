"""Per-field confidence. The raw score is the agreement between the value and its evidence,
times the evidence's OCR confidence, times (when the server returned logprobs) the
geometric-mean probability of the value's tokens. Evidence a vision model read has no OCR
confidence: that factor is left out (the score is agreement x token probability, or agreement
alone without logprobs), never guessed, and the field says so in its reasons.
:func:`calibrate_scores` then maps the raw score through a calibration fitted on a labelled set
(:mod:`inferstack.idp.calibration`), so the confidence reads as the probability that the value
is right; a field a validator failed stays at 0."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from inferstack.idp.calibration import Calibration
from inferstack.idp.document import Page
from inferstack.idp.evidence import Evidence, find_evidence
from inferstack.idp.extract import Extraction, TokenLogprob

__all__ = [
    "NO_READER_CONFIDENCE",
    "FieldScore",
    "calibrate_scores",
    "score_fields",
    "value_token_probability",
]

NO_READER_CONFIDENCE = (
    "read by a vision model, which gives no per-word confidence: the score is evidence "
    "agreement x token probability"
)


@dataclass
class FieldScore:
    """One field: its value, confidence, the parts it came from, evidence and reasons.

    ``raw_confidence`` is the uncalibrated score (the confidence until a calibration maps it);
    ``calibrated`` says whether ``confidence`` went through a calibration map;
    ``validation_failed`` whether a validator doubted the value (both confidences are then 0).
    """

    name: str
    value: Any
    confidence: float
    agreement: float
    ocr_confidence: float | None
    token_probability: float | None
    evidence: Evidence | None
    reasons: list[str] = field(default_factory=list)
    raw_confidence: float = -1.0
    calibrated: bool = False
    validation_failed: bool = False

    def __post_init__(self) -> None:
        if self.raw_confidence < 0:
            self.raw_confidence = self.confidence

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "confidence": round(self.confidence, 4),
            "raw_confidence": round(self.raw_confidence, 4),
            "calibrated": self.calibrated,
            "validation_failed": self.validation_failed,
            "agreement": round(self.agreement, 4),
            "ocr_confidence": None
            if self.ocr_confidence is None
            else round(self.ocr_confidence, 4),
            "token_probability": None
            if self.token_probability is None
            else round(self.token_probability, 4),
            "evidence": None if self.evidence is None else self.evidence.to_dict(),
            "reasons": self.reasons,
        }


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def value_token_probability(content: str, name: str, logprobs: list[TokenLogprob]) -> float | None:
    """Geometric-mean probability of the tokens that spell field ``name``'s value in
    ``content`` (the model's JSON); None when the value cannot be located in the tokens."""
    match = re.search(r'"' + re.escape(name) + r'"\s*:\s*', content)
    if match is None:
        return None
    try:
        _, end = json.JSONDecoder().raw_decode(content, match.end())
    except ValueError:
        return None
    start = match.end()
    if content[start] == '"':  # the value's characters, not its quotes
        start, end = start + 1, end - 1
    picked: list[float] = []
    offset = 0
    for token, logprob in logprobs:
        token_start, offset = offset, offset + len(token)
        if offset > start and token_start < max(end, start + 1):
            picked.append(logprob)
    if not picked:
        return None
    return math.exp(sum(picked) / len(picked))


def score_fields(extraction: Extraction, pages: list[Page]) -> list[FieldScore]:
    """Score every top-level field of ``extraction`` against the document's words."""
    scores = []
    for name, value in extraction.values.items():
        text = _as_text(value)
        evidence = find_evidence(text, pages) if text else None
        token_p = (
            value_token_probability(extraction.content, name, extraction.logprobs)
            if extraction.logprobs
            else None
        )
        reasons = []
        if not text:
            reasons.append("empty value")
        elif evidence is None:
            reasons.append("no supporting text in the document")
        agreement = evidence.agreement if evidence else 0.0
        ocr = evidence.ocr_confidence if evidence else None
        confidence = agreement
        if ocr is not None:
            confidence *= ocr
        elif evidence is not None:
            reasons.append(NO_READER_CONFIDENCE)
        if token_p is not None:
            confidence *= token_p
        scores.append(
            FieldScore(name, value, confidence, agreement, ocr, token_p, evidence, reasons)
        )
    return scores


def calibrate_scores(
    scores: list[FieldScore],
    calibration: Calibration | None,
    schema_name: str,
    model: str,
    reader: str = "ocr",
) -> None:
    """Map each field's raw score through ``calibration`` (when it covers ``schema_name``,
    ``model`` and ``reader``); fields a validator failed keep confidence 0."""
    if calibration is None:
        return
    for score in scores:
        if score.validation_failed:
            continue
        mapped = calibration.apply(schema_name, score.name, score.raw_confidence, model, reader)
        if mapped is not None:
            score.confidence = mapped
            score.calibrated = True
