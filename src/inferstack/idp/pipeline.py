"""One document through the whole path: hash → (already done? return it) → keep the file by
hash → read (OCR or a vision model: :attr:`IdpSettings.reader`) → extract → score → verify →
calibrate → decide → store. Pages are read one at a time and only their words are kept. A
stored document can be run through it again (:meth:`Processor.reprocess`), e.g. after a model
or calibration change."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from inferstack.errors import InferstackError, InvalidRequestError, NotFoundError
from inferstack.idp.calibration import Calibration, load_calibration
from inferstack.idp.decide import Decision, decide
from inferstack.idp.document import Page
from inferstack.idp.extract import Extraction, LogprobsUnsupported, extract
from inferstack.idp.files import file_sha256, keep_file, stored_file
from inferstack.idp.lookups import configured_validators
from inferstack.idp.metrics import IdpMetrics
from inferstack.idp.read import OcrReader, PageReader, read_document
from inferstack.idp.review import IN_PROGRESS, ConflictError
from inferstack.idp.score import FieldScore, calibrate_scores, score_fields
from inferstack.idp.settings import IdpSettings
from inferstack.idp.store import DocumentRow, IdpStore
from inferstack.idp.tracing import stage
from inferstack.idp.validators import Validator, apply_validators
from inferstack.idp.vision import VisionReader
from inferstack.telemetry.tracing import Telemetry

__all__ = ["Analysis", "Processor"]

log = logging.getLogger(__name__)


@dataclass
class Analysis:
    """What the pipeline made of one file."""

    page_count: int
    extraction: Extraction
    scores: list[FieldScore]
    decision: Decision
    pages: list[Page] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage

    def page_layouts(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.pages]

    def columns(self) -> dict[str, Any]:
        """The document columns this analysis sets."""
        return {
            "page_count": self.page_count,
            "status": self.decision.status,
            "min_confidence": self.decision.min_confidence,
            "values": self.extraction.values,
            "fields": {s.name: s.to_dict() for s in self.scores},
            "reasons": self.decision.reasons,
            "model": self.extraction.model,
        }


@dataclass
class Processor:
    """Processes files to one schema with one chat model client and one store."""

    settings: IdpSettings
    client: httpx.Client
    store: IdpStore
    validators: dict[str, list[Validator]] | None = None
    # Whether to ask for token logprobs: on until the server refuses them once.
    ask_logprobs: bool = field(default=True)
    telemetry: Telemetry = field(default_factory=Telemetry.disabled)
    metrics: IdpMetrics | None = None
    calibration: Calibration | None = field(init=False)

    def __post_init__(self) -> None:
        self.calibration = load_calibration(self.settings.calibration)
        if self.validators is None:
            self.validators = configured_validators(self.settings)

    def process(
        self, path: Path, schema_name: str, schema: dict[str, Any], filename: str | None = None
    ) -> dict[str, Any]:
        """The stored document for ``path`` (with ``"reused": true`` when it was already)."""
        attrs = {"inferstack.idp.file": path.name, "inferstack.idp.schema": schema_name}
        with self.telemetry.tracer.start_as_current_span("idp.process", attributes=attrs) as span:
            sha = file_sha256(path)
            existing = self.store.find(sha, schema_name)
            if existing is not None:
                log.info("%s: already processed as document %d", path.name, existing.id)
                span.set_attribute("inferstack.idp.reused", True)
                return {**existing.to_dict(), "reused": True}
            kept = keep_file(self.settings.files_dir, path, sha)
            started = time.perf_counter()
            try:
                analysis = self.analyse(kept, schema_name, schema, filename or path.name)
            except InferstackError:
                if self.metrics is not None:
                    self.metrics.processed(schema_name, "failed", None)
                raise
            with stage(self.telemetry.tracer, analysis.timings, "store"):
                row = self.store.add(
                    DocumentRow(
                        sha256=sha,
                        filename=filename or path.name,
                        schema_name=schema_name,
                        schema=schema,
                        **analysis.columns(),
                    ),
                    analysis.page_layouts(),
                )
            span.set_attribute("inferstack.idp.document_id", row.id)
            span.set_attribute("inferstack.idp.status", row.status)
            if self.metrics is not None:
                self.metrics.processed(schema_name, row.status, time.perf_counter() - started)
        log.info("%s: document %d %s", path.name, row.id, row.status)
        return {
            **row.to_dict(),
            "reused": False,
            "logprobs": analysis.extraction.logprobs is not None,
            "seconds": {k: round(v, 4) for k, v in analysis.timings.items()},
        }

    def reprocess(self, document_id: int, reviewer: str) -> dict[str, Any]:
        """Run stored document ``document_id``'s file through the pipeline again; its values,
        scores and status are replaced and the change is recorded (what it was, who asked)."""
        row = self.store.get(document_id)
        if row is None:
            raise NotFoundError(f"no document {document_id}", param="document_id")
        if row.status == IN_PROGRESS:
            raise ConflictError(
                f"document {document_id} is being reviewed; release it first", param="document_id"
            )
        path = stored_file(self.settings.files_dir, row.sha256)
        if path is None:
            raise InvalidRequestError(
                f"document {document_id}'s file is not kept in {self.settings.files_dir}",
                param="document_id",
            )
        analysis = self.analyse(path, row.schema_name, row.schema, row.filename)
        self.store.replace(document_id, analysis.columns(), reviewer, analysis.page_layouts())
        log.info("document %d reprocessed: %s", document_id, analysis.decision.status)
        return {"id": document_id, "status": analysis.decision.status}

    def analyse(
        self, path: Path, schema_name: str, schema: dict[str, Any], name: str | None = None
    ) -> Analysis:
        """Read, extract, score, verify, calibrate and decide (a span and a timing for each
        stage); nothing is stored. Errors name the document ``name`` (default: the file's)."""
        tracer, timings = self.telemetry.tracer, dict[str, float]()
        vision = self.settings.vision_model if self.settings.reader == "vision" else None
        with stage(tracer, timings, "read", reader=self.settings.reader, model=vision) as span:
            read_headers: dict[str, str] = {}
            Telemetry.inject(read_headers)  # the vision model's spans join this one
            pages: list[Page] = list(
                read_document(
                    path, dpi=self.settings.dpi, reader=self._reader(read_headers), name=name
                )
            )
            span.set_attribute("inferstack.idp.pages", len(pages))
            span.set_attribute("inferstack.idp.sources", sorted({p.source for p in pages}))
            fallbacks = [p.number for p in pages if p.fallback is not None]
            if fallbacks:
                span.set_attribute("inferstack.idp.ocr_fallback_pages", fallbacks)
        text = "\n\n".join(p.text for p in pages)
        with stage(tracer, timings, "extract", model=self.settings.chat_model) as span:
            headers: dict[str, str] = {}
            Telemetry.inject(headers)
            extraction = self._extract(text, schema_name, schema, headers)
            span.set_attribute("inferstack.idp.logprobs", extraction.logprobs is not None)
        with stage(tracer, timings, "score") as span:
            scores = score_fields(extraction, pages)
            table = self.validators or {}
            apply_validators(scores, extraction.values, table.get(schema_name, []))
            calibrate_scores(
                scores, self.calibration, schema_name, extraction.model, self.settings.reader
            )
            decision = decide(scores, self.settings.approve_threshold)
            span.set_attribute("inferstack.idp.status", decision.status)
            span.set_attribute("inferstack.idp.min_confidence", decision.min_confidence)
        return Analysis(len(pages), extraction, scores, decision, pages, timings)

    def _reader(self, headers: dict[str, str]) -> PageReader:
        """How page images are read: OCR, or the vision model (OCR behind it only when the
        user asked for that fallback)."""
        ocr = OcrReader(self.settings.ocr_language, self.settings.ocr_orientation)
        if self.settings.reader == "ocr":
            return ocr
        fallback = ocr if self.settings.vision_fallback == "ocr" else None
        return VisionReader(self.client, self.settings, headers, fallback)

    def _extract(
        self, text: str, name: str, schema: dict[str, Any], headers: dict[str, str]
    ) -> Extraction:
        if self.ask_logprobs:
            try:
                return extract(self.client, self.settings, text, name, schema, headers=headers)
            except LogprobsUnsupported as exc:
                log.warning(
                    "the chat model returns no logprobs with structured output (%s); field "
                    "confidence uses OCR and evidence agreement only",
                    exc,
                )
                self.ask_logprobs = False
        return extract(
            self.client, self.settings, text, name, schema, logprobs=False, headers=headers
        )
