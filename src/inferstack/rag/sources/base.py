"""What a reader is, and the options tabular readers share."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from inferstack.errors import InvalidRequestError
from inferstack.rag.types import Document, Metadata

__all__ = ["ReadOptions", "Reader", "record_document"]


@dataclass(frozen=True)
class ReadOptions:
    """How rows of csv/json/jsonl files become documents."""

    text_fields: tuple[str, ...] = ()
    """Fields joined into the text; empty: every field not used as metadata or id."""
    metadata_fields: tuple[str, ...] = ()
    """Fields copied into the document metadata (filterable)."""
    id_field: str | None = None
    """Field holding a stable record id; without it the row number is the id."""
    extra_metadata: Metadata = field(default_factory=dict)
    """Metadata put on every document (e.g. ``{"collection": "faq"}``)."""


class Reader(Protocol):
    def __call__(self, path: Path, options: ReadOptions) -> Iterator[Document]: ...


def record_document(
    source: str, index: int, record: Mapping[str, Any], options: ReadOptions
) -> Document:
    """One row/record as a document, with its text and metadata fields."""
    missing = [f for f in (*options.text_fields, *options.metadata_fields) if f and f not in record]
    if options.id_field and options.id_field not in record:
        missing.append(options.id_field)
    if missing:
        raise InvalidRequestError(
            f"{source}: record {index} has no field(s) {missing} (has {sorted(record)})",
            param="text_fields",
        )
    used = {*options.metadata_fields, options.id_field}
    names = options.text_fields or tuple(k for k in record if k not in used)
    if len(names) == 1:
        text = _text(record[names[0]])
    else:
        text = "\n".join(f"{k}: {_text(record[k])}" for k in names if _text(record[k]))
    metadata: Metadata = {**options.extra_metadata}
    for key in options.metadata_fields:
        value = record[key]
        metadata[key] = value if isinstance(value, str | int | float | bool) else _text(value)
    record_id = f"id={record[options.id_field]}" if options.id_field else f"row={index}"
    return Document(doc_id=f"{source}#{record_id}", source=source, text=text, metadata=metadata)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    import json

    return json.dumps(value, ensure_ascii=False)
