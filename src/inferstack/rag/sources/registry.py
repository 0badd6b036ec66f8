"""Suffix → reader, and walking the paths given to ``inferstack ingest``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from inferstack.errors import InvalidRequestError
from inferstack.rag.sources.base import Reader, ReadOptions
from inferstack.rag.sources.html import read_html
from inferstack.rag.sources.pdf import read_pdf
from inferstack.rag.sources.tabular import read_csv, read_json, read_jsonl
from inferstack.rag.sources.text import read_markdown, read_text
from inferstack.rag.types import Document

__all__ = ["READERS", "discover", "read_file", "read_paths"]

READERS: dict[str, Reader] = {
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".txt": read_text,
    ".text": read_text,
    ".csv": read_csv,
    ".json": read_json,
    ".jsonl": read_jsonl,
    ".ndjson": read_jsonl,
    ".pdf": read_pdf,
    ".html": read_html,
    ".htm": read_html,
}


def discover(paths: Iterable[Path]) -> list[Path]:
    """Readable files under ``paths`` (files given explicitly must have a known suffix)."""
    found: list[Path] = []
    for raw in paths:
        path = raw.resolve()
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in READERS and not _hidden(p, path)
            )
        elif path.is_file():
            if path.suffix.lower() not in READERS:
                raise InvalidRequestError(
                    f"{raw}: no reader for {path.suffix or 'files without a suffix'} "
                    f"(known: {', '.join(sorted(READERS))})",
                    param="path",
                )
            found.append(path)
        else:
            raise InvalidRequestError(f"{raw}: no such file or folder", param="path")
    return found


def read_file(path: Path, options: ReadOptions) -> Iterator[Document]:
    return READERS[path.suffix.lower()](path, options)


def read_paths(paths: Iterable[Path], options: ReadOptions) -> Iterator[Document]:
    for path in discover(paths):
        yield from read_file(path, options)


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)
