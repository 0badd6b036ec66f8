"""The layout a reader produces: pages of lines of words, each word with its box and confidence.

Boxes are pixels ``(left, top, width, height)`` on the page image the reader used (OCR) or at
the page's render scale (PDF text layers), origin at the top left. A vision model reads lines,
not words: each word of a line it read carries the line's box when the model gave one, else no
box (``None``), and no reader confidence (``None``): the model gives none.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Box", "Line", "Page", "Word", "placed", "union_box", "union_box_of"]

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Word:
    """One word, where it is on its page, and how sure the reader is of it (0..1); ``None``
    when the reader could not say (a vision model: see the module docstring)."""

    text: str
    box: Box | None
    confidence: float | None
    page: int


@dataclass
class Line:
    """Words that the reader put on one line, left to right."""

    words: list[Word]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def box(self) -> Box | None:
        return union_box_of([w.box for w in self.words])


@dataclass
class Page:
    """One page: its number (from 1), size in pixels (upright), how it was read, its lines."""

    number: int
    width: int
    height: int
    source: str  # "ocr", "text-layer" or "vision"
    lines: list[Line] = field(default_factory=list)
    rotation: int = 0  # degrees the scan was turned clockwise to read it
    # Why this page was OCR'd although the vision reader was asked for (its error), when the
    # user allowed that fallback; None otherwise.
    fallback: str | None = None

    @property
    def words(self) -> list[Word]:
        return [w for line in self.lines for w in line.words]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "width": self.width,
            "height": self.height,
            "source": self.source,
            "rotation": self.rotation,
            "fallback": self.fallback,
            "lines": [
                {"text": ln.text, "box": ln.box, "words": [asdict(w) for w in ln.words]}
                for ln in self.lines
            ],
        }


def union_box(boxes: list[Box]) -> Box:
    """The smallest box holding all ``boxes``."""
    left = min(b[0] for b in boxes)
    top = min(b[1] for b in boxes)
    right = max(b[0] + b[2] for b in boxes)
    bottom = max(b[1] + b[3] for b in boxes)
    return (left, top, right - left, bottom - top)


def placed(word: Word) -> Box:
    """``word``'s box, for readers that always give one (OCR, text layers)."""
    if word.box is None:
        raise ValueError(f"word {word.text!r} on page {word.page} has no box")
    return word.box


def union_box_of(boxes: list[Box | None]) -> Box | None:
    """:func:`union_box`, or None when any box is unknown (a union of what is known would claim
    a place for text that may lie outside it)."""
    known = [b for b in boxes if b is not None]
    if not known or len(known) < len(boxes):
        return None
    return union_box(known)
