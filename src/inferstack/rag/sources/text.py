"""Plain text and Markdown: one document per file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from inferstack.rag.sources.base import ReadOptions
from inferstack.rag.types import Document

__all__ = ["read_markdown", "read_text"]


def read_text(path: Path, options: ReadOptions) -> Iterator[Document]:
    text = path.read_text(encoding="utf-8", errors="replace")
    source = str(path)
    yield Document(source, source, text, {**options.extra_metadata, "format": "txt"})


def read_markdown(path: Path, options: ReadOptions) -> Iterator[Document]:
    text = path.read_text(encoding="utf-8", errors="replace")
    source = str(path)
    yield Document(source, source, text, {**options.extra_metadata, "format": "md"})
