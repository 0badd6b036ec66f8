"""Evidence: for each extracted value, the run of words on one page that reads most like it,
with their boxes, and how closely they agree with the value (0..1). Words a vision model read
have no reader confidence and at most their line's box (:mod:`inferstack.idp.document`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher

from inferstack.idp.document import Box, Page, Word, union_box_of

__all__ = ["Evidence", "find_evidence", "normalise"]

# Below this agreement the best run of words is no evidence at all.
MIN_AGREEMENT = 0.5
_PUNCT = re.compile(r"[^\w.\-/@]+")


@dataclass
class Evidence:
    """The words supporting a value, the page they are on, their union box, agreement, and
    how that page was read (``source``: ocr, text-layer or vision)."""

    words: list[Word]
    agreement: float
    source: str = "ocr"

    @property
    def page(self) -> int:
        return self.words[0].page

    @property
    def box(self) -> Box | None:
        """The words' union box; None when the reader gave some of them no box."""
        return union_box_of([w.box for w in self.words])

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def ocr_confidence(self) -> float | None:
        """The words' mean reader confidence; None when the reader gave none (vision)."""
        known = [w.confidence for w in self.words if w.confidence is not None]
        if len(known) < len(self.words):
            return None
        return sum(known) / len(known)

    def to_dict(self) -> dict[str, object]:
        box, ocr = self.box, self.ocr_confidence
        return {
            "text": self.text,
            "page": self.page,
            "source": self.source,
            "box": None if box is None else list(box),
            "agreement": round(self.agreement, 4),
            "ocr_confidence": None if ocr is None else round(ocr, 4),
            "words": [
                {
                    "text": w.text,
                    "box": None if w.box is None else list(w.box),
                    "confidence": w.confidence,
                }
                for w in self.words
            ],
        }


def normalise(text: str) -> str:
    """Lower case, punctuation (except . - / @ inside values) and runs of space collapsed."""
    return " ".join(_PUNCT.sub(" ", text.lower()).split()).strip(" .")


def find_evidence(value: str, pages: Iterable[Page]) -> Evidence | None:
    """The run of consecutive words (within one line, or spanning lines of one page) whose text
    is most similar to ``value``; None when nothing agrees at least :data:`MIN_AGREEMENT`."""
    target = normalise(value)
    if not target:
        return None
    size = len(target.split())
    best: Evidence | None = None
    for page in pages:
        words = page.words
        for n in {max(1, size - 1), size, size + 1}:
            for start in range(0, max(0, len(words) - n) + 1):
                window = words[start : start + n]
                if not window:
                    continue
                ratio = SequenceMatcher(
                    None, normalise(" ".join(w.text for w in window)), target
                ).ratio()
                if best is None or ratio > best.agreement:
                    best = Evidence(list(window), ratio, page.source)
    if best is None or best.agreement < MIN_AGREEMENT:
        return None
    return best
