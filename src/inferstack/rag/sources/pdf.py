"""PDF: the text layer and the tables of every page (pdfplumber), one document per file.

Tables are rendered as pipe-separated rows after the page's text, so their cells are searchable
and a row stays together in one chunk. A page with neither text nor tables (a scan) is reported
in the metadata (``pages_without_text``): OCR belongs to the idp package.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from inferstack.rag.sources.base import ReadOptions
from inferstack.rag.types import Document

__all__ = ["read_pdf"]


def read_pdf(path: Path, options: ReadOptions) -> Iterator[Document]:
    import pdfplumber

    parts: list[str] = []
    empty = 0
    with pdfplumber.open(path) as pdf:
        pages = len(pdf.pages)
        for page in pdf.pages:
            text = (page.extract_text() or "").strip()
            tables = [_table(t) for t in page.extract_tables() if t]
            body = "\n\n".join(p for p in [text, *tables] if p)
            if not body:
                empty += 1
            parts.append(body)
    source = str(path)
    metadata = {**options.extra_metadata, "format": "pdf", "pages": pages}
    if empty:
        metadata["pages_without_text"] = empty
    yield Document(source, source, "\n\n".join(p for p in parts if p), metadata)


def _table(rows: list[list[str | None]]) -> str:
    return "\n".join(
        " | ".join((cell or "").replace("\n", " ").strip() for cell in row) for row in rows
    )
