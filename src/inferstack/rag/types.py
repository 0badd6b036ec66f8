"""The values that flow through RAG: documents read from sources, chunks, retrieval hits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Chunk", "Document", "Hit", "Metadata", "content_hash"]

Metadata = dict[str, Any]
"""JSON-safe metadata: string keys, scalar values (str, int, float, bool)."""


def content_hash(text: str) -> str:
    """The SHA-256 of ``text`` (UTF-8), hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Document:
    """One document from a source: a file, or one row/record of a tabular file."""

    doc_id: str
    """Stable id: the source path, plus ``#row=N`` / ``#id=…`` for records of a file."""
    source: str
    """Where it came from (the file path as given, made absolute)."""
    text: str
    metadata: Metadata = field(default_factory=dict)

    @property
    def hash(self) -> str:
        """Hash of text and metadata: a change to either re-ingests the document."""
        meta = repr(sorted(self.metadata.items()))
        return content_hash(self.text + "\x00" + meta)


@dataclass(frozen=True)
class Chunk:
    """A piece of a document that fits the embedding model, with its location."""

    chunk_id: str
    doc_id: str
    source: str
    position: int
    """0-based index of the chunk within its document."""
    start: int
    """Character offsets of the chunk in the document text: ``text == doc.text[start:end]``."""
    end: int
    text: str
    tokens: int
    metadata: Metadata = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk: where it is, how it scored, and its text."""

    chunk_id: str
    doc_id: str
    source: str
    position: int
    start: int
    end: int
    text: str
    score: float
    """Higher is better; the scale depends on the mode (cosine, BM25, fused)."""
    metadata: Metadata = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    """Per-method scores when fused (``vector``, ``bm25``)."""

    def location(self) -> str:
        """Human-readable location: ``source#chunk=N (chars a-b)``."""
        return f"{self.source}#chunk={self.position} (chars {self.start}-{self.end})"
