"""CSV (the standard library's parser: quoting, embedded newlines), JSON and JSON Lines."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from inferstack.errors import InvalidRequestError
from inferstack.rag.sources.base import ReadOptions, record_document
from inferstack.rag.types import Document

__all__ = ["read_csv", "read_json", "read_jsonl"]


def read_csv(path: Path, options: ReadOptions) -> Iterator[Document]:
    csv.field_size_limit(sys.maxsize)
    source = str(path)
    with path.open(newline="", encoding="utf-8-sig") as f:
        for index, row in enumerate(csv.DictReader(f)):
            yield record_document(source, index, row, options)


def read_jsonl(path: Path, options: ReadOptions) -> Iterator[Document]:
    source = str(path)
    with path.open(encoding="utf-8") as f:
        for index, line in enumerate(f):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidRequestError(
                    f"{source}: line {index + 1} is not JSON: {exc}", param="path"
                ) from exc
            yield record_document(source, index, _mapping(source, index, record), options)


def read_json(path: Path, options: ReadOptions) -> Iterator[Document]:
    source = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"{source} is not JSON: {exc}", param="path") from exc
    records = data if isinstance(data, list) else [data]
    for index, record in enumerate(records):
        yield record_document(source, index, _mapping(source, index, record), options)


def _mapping(source: str, index: int, record: Any) -> dict[str, Any]:
    if isinstance(record, dict):
        return record
    return {"text": record if isinstance(record, str) else json.dumps(record)}
