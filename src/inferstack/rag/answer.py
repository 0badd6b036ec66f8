"""Grounded answers with numbered citations, through a chat model over the OpenAI API.

The retrieved chunks are numbered ``[1]..[n]`` in the prompt and the model is told to cite
them. Before any model call a relevance check looks at the best cosine similarity between the
question and the knowledge base: below ``min_relevance`` the answer is "the knowledge base has
no answer" and the model is not asked (a small model would otherwise answer from thin air).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from inferstack.errors import UpstreamError
from inferstack.protocol.sse import aiter_sse_data
from inferstack.rag.retrieve import KnowledgeBase
from inferstack.rag.retriever import RetrievalMode
from inferstack.rag.types import Hit, Metadata

__all__ = ["NO_ANSWER", "Answer", "Answerer", "build_messages", "cited_numbers"]

NO_ANSWER = "The knowledge base has no answer to this question."
SYSTEM = (
    "You answer questions using only the numbered sources below. After each statement, cite "
    "the source it comes from as [n]. If the sources do not contain the answer, say that you "
    "do not know."
)
_CITATION = re.compile(r"\[(\d{1,3})\]")


@dataclass
class Answer:
    text: str
    citations: list[Hit]
    """The numbered sources given to the model: ``citations[n - 1]`` is source ``[n]``."""
    cited: list[int] = field(default_factory=list)
    """Source numbers the answer actually cites (all valid indexes into ``citations``)."""
    no_answer: bool = False
    best_score: float | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": "rag.answer",
            "answer": self.text,
            "no_answer": self.no_answer,
            "best_score": self.best_score,
            "model": self.model,
            "cited": self.cited,
            "citations": [citation_dict(i + 1, h) for i, h in enumerate(self.citations)],
            "usage": self.usage,
        }


def citation_dict(number: int, hit: Hit) -> dict[str, Any]:
    return {
        "index": number,
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


def build_messages(question: str, hits: list[Hit]) -> list[dict[str, str]]:
    sources = "\n\n".join(f"[{i}] ({h.source}) {h.text}" for i, h in enumerate(hits, start=1))
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Sources:\n{sources}\n\nQuestion: {question}"},
    ]


def cited_numbers(text: str, n: int) -> list[int]:
    """Distinct ``[k]`` markers in ``text`` with ``1 <= k <= n``, in order of appearance."""
    out: list[int] = []
    for m in _CITATION.finditer(text):
        k = int(m.group(1))
        if 1 <= k <= n and k not in out:
            out.append(k)
    return out


class Answerer:
    """Retrieves, checks relevance, and asks the chat model (``/chat/completions``)."""

    def __init__(self, kb: KnowledgeBase, transport: httpx.AsyncBaseTransport | None = None):
        self.kb = kb
        s = kb.settings
        key = s.api_key.get_secret_value() if s.api_key else None
        self.client = httpx.AsyncClient(
            base_url=s.chat_base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {key}"} if key else {},
            timeout=s.request_timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def sources(
        self, question: str, *, k: int | None, mode: RetrievalMode, filters: Metadata | None
    ) -> tuple[list[Hit], float | None]:
        modes: tuple[RetrievalMode, ...] = (mode,) if mode == "vector" else (mode, "vector")
        ranking = await self.kb.rank(question, filters=filters, modes=modes)
        hits = self.kb.hits(ranking, mode, k or self.kb.settings.context_chunks)
        return hits, ranking.best_cosine

    def relevant(self, hits: list[Hit], best: float | None) -> bool:
        return bool(hits) and best is not None and best >= self.kb.settings.min_relevance

    async def answer(
        self,
        question: str,
        *,
        k: int | None = None,
        mode: RetrievalMode = "hybrid",
        filters: Metadata | None = None,
        max_tokens: int | None = None,
    ) -> Answer:
        hits, best = await self.sources(question, k=k, mode=mode, filters=filters)
        if not self.relevant(hits, best):
            return Answer(NO_ANSWER, [], no_answer=True, best_score=best)
        body = self._body(question, hits, max_tokens, stream=False)
        data = await self._post(body)
        try:
            text = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise UpstreamError(f"malformed chat completion: {exc!r}") from exc
        return Answer(
            text,
            hits,
            cited_numbers(text, len(hits)),
            best_score=best,
            model=data.get("model"),
            usage=data.get("usage"),
        )

    async def stream(
        self,
        question: str,
        *,
        k: int | None = None,
        mode: RetrievalMode = "hybrid",
        filters: Metadata | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Events: ``rag.citations`` (the sources), ``rag.delta`` (text), ``rag.done``."""
        hits, best = await self.sources(question, k=k, mode=mode, filters=filters)
        relevant = self.relevant(hits, best)
        yield {
            "object": "rag.citations",
            "no_answer": not relevant,
            "best_score": best,
            "citations": [citation_dict(i + 1, h) for i, h in enumerate(hits)] if relevant else [],
        }
        if not relevant:
            yield {"object": "rag.delta", "delta": NO_ANSWER}
            yield {"object": "rag.done", "cited": [], "no_answer": True}
            return
        parts: list[str] = []
        body = self._body(question, hits, max_tokens, stream=True)
        async with self.client.stream("POST", "chat/completions", json=body) as r:
            if r.status_code != 200:
                await r.aread()
                raise UpstreamError(f"chat model answered {r.status_code}: {r.text[:300]}")
            async for data in aiter_sse_data(r.aiter_lines()):
                delta = _delta(data)
                if delta:
                    parts.append(delta)
                    yield {"object": "rag.delta", "delta": delta}
        text = "".join(parts)
        yield {"object": "rag.done", "cited": cited_numbers(text, len(hits)), "no_answer": False}

    def _body(
        self, question: str, hits: list[Hit], max_tokens: int | None, *, stream: bool
    ) -> dict[str, Any]:
        return {
            "model": self.kb.settings.chat_model,
            "messages": build_messages(question, hits),
            "max_tokens": max_tokens or self.kb.settings.answer_max_tokens,
            "temperature": 0.0,
            "stream": stream,
        }

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            r = await self.client.post("chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"chat request failed: {exc!r}") from exc
        if r.status_code != 200:
            raise UpstreamError(f"chat model answered {r.status_code}: {r.text[:300]}")
        data: dict[str, Any] = r.json()
        return data


def _delta(data: str) -> str:
    import json

    if data == "[DONE]":
        return ""
    event = json.loads(data)
    if "error" in event:
        raise UpstreamError(f"chat stream failed: {event['error'].get('message')}")
    choices = event.get("choices") or []
    if not choices:
        return ""
    return str((choices[0].get("delta") or {}).get("content") or "")
