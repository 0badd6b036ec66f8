"""One document through the whole path: hash → (already done? return it) → read → extract →
score → decide → store. Pages are read one at a time and only their words are kept."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from inferstack.errors import InferstackError
from inferstack.idp.decide import decide
from inferstack.idp.document import Page
from inferstack.idp.extract import Extraction, LogprobsUnsupported, extract
from inferstack.idp.metrics import IdpMetrics
from inferstack.idp.read import read_document
from inferstack.idp.score import score_fields
from inferstack.idp.settings import IdpSettings
from inferstack.idp.store import DocumentRow, IdpStore
from inferstack.idp.validators import DEFAULT_VALIDATORS, Validator, apply_validators

__all__ = ["Processor", "file_sha256"]

log = logging.getLogger(__name__)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Processor:
    """Processes files to one schema with one chat model client and one store."""

    settings: IdpSettings
    client: httpx.Client
    store: IdpStore
    validators: dict[str, list[Validator]] | None = None
    # Whether to ask for token logprobs: on until the server refuses them once.
    ask_logprobs: bool = field(default=True)
    metrics: IdpMetrics | None = None

    def process(
        self, path: Path, schema_name: str, schema: dict[str, Any], filename: str | None = None
    ) -> dict[str, Any]:
        """The stored document for ``path`` (with ``"reused": true`` when it was already)."""
        sha = file_sha256(path)
        existing = self.store.find(sha, schema_name)
        if existing is not None:
            log.info("%s: already processed as document %d", path.name, existing.id)
            return {**existing.to_dict(), "reused": True}
        started = time.perf_counter()
        try:
            row, logprobs = self._process_new(path, sha, schema_name, schema, filename)
        except InferstackError:
            if self.metrics is not None:
                self.metrics.processed(schema_name, "failed", None)
            raise
        if self.metrics is not None:
            self.metrics.processed(schema_name, row.status, time.perf_counter() - started)
        return {**row.to_dict(), "reused": False, "logprobs": logprobs}

    def _process_new(
        self, path: Path, sha: str, schema_name: str, schema: dict[str, Any], filename: str | None
    ) -> tuple[DocumentRow, bool]:
        """Read, extract, score, decide and store a file not processed before."""
        pages: list[Page] = list(
            read_document(path, dpi=self.settings.dpi, language=self.settings.ocr_language)
        )
        text = "\n\n".join(p.text for p in pages)
        extraction = self._extract(text, schema_name, schema)
        scores = score_fields(extraction, pages)
        table = DEFAULT_VALIDATORS if self.validators is None else self.validators
        apply_validators(scores, extraction.values, table.get(schema_name, []))
        decision = decide(scores, self.settings.approve_threshold)
        row = self.store.add(
            DocumentRow(
                sha256=sha,
                filename=filename or path.name,
                schema_name=schema_name,
                schema=schema,
                page_count=len(pages),
                status=decision.status,
                min_confidence=decision.min_confidence,
                values=extraction.values,
                fields={s.name: s.to_dict() for s in scores},
                reasons=decision.reasons,
                model=extraction.model,
            )
        )
        log.info("%s: document %d %s", path.name, row.id, decision.status)
        return row, extraction.logprobs is not None

    def _extract(self, text: str, name: str, schema: dict[str, Any]) -> Extraction:
        if self.ask_logprobs:
            try:
                return extract(self.client, self.settings, text, name, schema)
            except LogprobsUnsupported as exc:
                log.warning(
                    "the chat model returns no logprobs with structured output (%s); field "
                    "confidence uses OCR and evidence agreement only",
                    exc,
                )
                self.ask_logprobs = False
        return extract(self.client, self.settings, text, name, schema, logprobs=False)
