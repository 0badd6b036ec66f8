"""The grounded prompt and its numbered sources: knowledge-base chunks or web results.

Sources are numbered ``[1]..[n]`` in the prompt; the model is told to cite them, and the
``[k]`` markers it writes are read back (:func:`cited_numbers`). Each source becomes a
citation in the API with an ``origin``: ``knowledge_base`` (chunk id, document, position,
span) or ``web`` (URL, title, snippet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from inferstack.rag.types import Hit
from inferstack.websearch import WebResult

__all__ = [
    "SYSTEM",
    "Route",
    "Sources",
    "build_messages",
    "citation_dict",
    "cited_numbers",
    "web_citation_dict",
]

Route = Literal["knowledge_base", "web_search", "no_answer"]

SYSTEM = (
    "You answer questions using only the numbered sources below. After each statement, cite "
    "the source it comes from as [n]. If the sources do not contain the answer, say that you "
    "do not know."
)
_CITATION = re.compile(r"\[(\d{1,3})\]")


@dataclass
class Sources:
    """What the answer is written from: knowledge-base chunks, web results, or nothing."""

    route: Route
    hits: list[Hit] = field(default_factory=list)
    web: list[WebResult] = field(default_factory=list)
    best_score: float | None = None

    @property
    def count(self) -> int:
        return len(self.web) if self.route == "web_search" else len(self.hits)

    def citations(self) -> list[dict[str, Any]]:
        """The numbered sources as the API shows them (``[n]`` is ``citations[n - 1]``)."""
        if self.route == "web_search":
            return [web_citation_dict(i + 1, r) for i, r in enumerate(self.web)]
        return [citation_dict(i + 1, h) for i, h in enumerate(self.hits)]

    def numbered(self) -> list[tuple[str, str]]:
        """(label, text) of each source for the prompt, in citation order."""
        if self.route == "web_search":
            return [(f"{r.title}, {r.url}", r.content) for r in self.web]
        return [(h.source, h.text) for h in self.hits]


def citation_dict(number: int, hit: Hit) -> dict[str, Any]:
    return {
        "index": number,
        "origin": "knowledge_base",
        "chunk_id": hit.chunk_id,
        "doc_id": hit.doc_id,
        "source": hit.source,
        "position": hit.position,
        "start": hit.start,
        "end": hit.end,
        "score": hit.score,
        "scores": hit.scores,
        "text": hit.text,
        "metadata": hit.metadata,
    }


def web_citation_dict(number: int, result: WebResult) -> dict[str, Any]:
    """A web result as a citation: ``source`` is its URL, ``origin`` says it is from the web."""
    return {
        "index": number,
        "origin": "web",
        "source": result.url,
        "url": result.url,
        "title": result.title,
        "text": result.content,
        "score": result.score,
    }


def build_messages(question: str, sources: list[tuple[str, str]]) -> list[dict[str, str]]:
    """The grounded prompt: each (label, text) source numbered ``[n] (label) text``."""
    numbered = "\n\n".join(
        f"[{i}] ({label}) {text}" for i, (label, text) in enumerate(sources, start=1)
    )
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Sources:\n{numbered}\n\nQuestion: {question}"},
    ]


def cited_numbers(text: str, n: int) -> list[int]:
    """Distinct ``[k]`` markers in ``text`` with ``1 <= k <= n``, in order of appearance."""
    out: list[int] = []
    for m in _CITATION.finditer(text):
        k = int(m.group(1))
        if 1 <= k <= n and k not in out:
            out.append(k)
    return out
