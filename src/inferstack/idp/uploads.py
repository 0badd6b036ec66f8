"""Uploads to the IDP service: a file's bytes kept once under its content hash (0600), then
processed like ``inferstack idp process`` does (a known hash returns the stored document)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inferstack.errors import InvalidRequestError, PayloadTooLargeError
from inferstack.idp.files import keep_bytes
from inferstack.idp.pipeline import Processor
from inferstack.idp.read import DOCUMENT_SUFFIXES
from inferstack.idp.schemas import BUILTIN_SCHEMAS

__all__ = ["process_upload"]

SUFFIXES = DOCUMENT_SUFFIXES


def process_upload(processor: Processor, data: bytes, filename: str, schema: str) -> dict[str, Any]:
    """Store and process an uploaded file; only built-in schemas are reachable over HTTP (a
    schema file path would let a client read the server's files)."""
    settings = processor.settings
    if schema not in BUILTIN_SCHEMAS:
        raise InvalidRequestError(
            f"unknown schema {schema!r}: one of {', '.join(BUILTIN_SCHEMAS)}", param="schema"
        )
    suffix = Path(filename).suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidRequestError(
            f"filename must end in one of {', '.join(sorted(SUFFIXES))}", param="filename"
        )
    if not data:
        raise InvalidRequestError("the request body (the file) is empty", param="body")
    if len(data) > settings.max_upload_bytes:
        raise PayloadTooLargeError(
            f"file is {len(data)} bytes; the limit is {settings.max_upload_bytes}", param="body"
        )
    path = keep_bytes(settings.files_dir, data, suffix)
    doc = processor.process(path, schema, BUILTIN_SCHEMAS[schema], filename=Path(filename).name)
    return doc
