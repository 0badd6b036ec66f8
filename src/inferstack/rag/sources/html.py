"""HTML: visible text (BeautifulSoup), headings kept as Markdown headings for chunking."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from inferstack.rag.sources.base import ReadOptions
from inferstack.rag.types import Document

__all__ = ["html_to_text", "read_html"]

_BLOCKS = ("p", "li", "pre", "blockquote", "tr", "dt", "dd", "table", "div", "section")


def html_to_text(html: str) -> tuple[str, str]:
    """(title, text) of an HTML page; headings become ``#`` lines, blocks paragraphs."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head", "nav", "footer"]):
        if tag.name == "head":
            continue
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else ""
    if soup.head:
        soup.head.decompose()
    for level in range(1, 7):
        for h in soup.find_all(f"h{level}"):
            h.replace_with(f"\n\n{'#' * level} {h.get_text(' ', strip=True)}\n\n")
    for cell in soup.find_all(["td", "th"]):
        cell.append(" | ")
    for block in soup.find_all(_BLOCKS):
        block.insert_before("\n\n")
        block.insert_after("\n\n")
    text = soup.get_text()
    lines = [" ".join(line.split()) for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return title, "\n".join(out).strip()


def read_html(path: Path, options: ReadOptions) -> Iterator[Document]:
    title, text = html_to_text(path.read_text(encoding="utf-8", errors="replace"))
    source = str(path)
    metadata = {**options.extra_metadata, "format": "html"}
    if title:
        metadata["title"] = title
    yield Document(source, source, text, metadata)
