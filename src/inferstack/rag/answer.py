"""Grounded answers with numbered citations, through a chat model over the OpenAI API.

The retrieved chunks are numbered ``[1]..[n]`` in the prompt and the model is told to cite
them (:mod:`inferstack.rag.grounding`). Before any model call a relevance check looks at the
best cosine similarity between the question and the knowledge base: below ``min_relevance``
the knowledge base has no answer and the model is not asked from it (a small model would
otherwise answer from thin air). Then:

- web search configured (``settings.websearch.api_key``): the question goes to the provider, its
  results are numbered as the sources instead (title, URL, snippet) and the model answers from
  them; ``route`` is ``web_search`` and each citation's ``origin`` is ``web``. No results: no
  answer. A provider failure is a :class:`~inferstack.websearch.WebSearchError` (502), never an
  answer without sources;
- otherwise: no answer, ``route`` ``no_answer``, as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from opentelemetry import trace

from inferstack.errors import UpstreamError
from inferstack.protocol.sse import aiter_sse_data
from inferstack.rag.grounding import Route, Sources, build_messages, cited_numbers
from inferstack.rag.retrieve import KnowledgeBase
from inferstack.rag.retriever import RetrievalMode
from inferstack.rag.tracing import retrieval
from inferstack.rag.types import Hit, Metadata
from inferstack.telemetry.genai import inference_span, set_response, set_usage
from inferstack.telemetry.propagation import async_hooks
from inferstack.telemetry.semconv import Attr, Operation
from inferstack.websearch import WebResult, WebSearch

__all__ = ["NO_ANSWER", "Answer", "Answerer"]

NO_ANSWER = "The knowledge base has no answer to this question."


@dataclass
class Answer:
    text: str
    citations: list[Hit]
    """The numbered chunks given to the model: ``citations[n - 1]`` is source ``[n]`` (empty
    on the web_search route, whose sources are ``web_results``)."""
    cited: list[int] = field(default_factory=list)
    """Source numbers the answer actually cites (all valid source numbers)."""
    no_answer: bool = False
    best_score: float | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None
    route: Route = "knowledge_base"
    web_results: list[WebResult] = field(default_factory=list)
    """The numbered web results given to the model on the web_search route."""

    def as_dict(self) -> dict[str, Any]:
        sources = Sources(self.route, self.citations, self.web_results)
        return {
            "object": "rag.answer",
            "answer": self.text,
            "route": self.route,
            "no_answer": self.no_answer,
            "best_score": self.best_score,
            "model": self.model,
            "cited": self.cited,
            "citations": sources.citations(),
            "usage": self.usage,
        }


class Answerer:
    """Retrieves, checks relevance, hands off to web search when configured, and asks the chat
    model (``/chat/completions``)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        transport: httpx.AsyncBaseTransport | None = None,
        web: WebSearch | None = None,
        tracer: trace.Tracer | None = None,
        record_content: bool = False,
    ):
        self.kb = kb
        s = kb.settings
        key = s.api_key.get_secret_value() if s.api_key else None
        self.base_url = s.chat_base_url.rstrip("/") + "/"
        self.client = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {key}"} if key else {},
            timeout=s.request_timeout,
            transport=transport,
            event_hooks=async_hooks(),
        )
        self.tracer = tracer or trace.NoOpTracer()
        """Each chat call is a ``chat {model}`` CLIENT span; its request carries the span.
        :meth:`route` is a ``retrieval {collection}`` span (the service opens its own around
        :meth:`sources` and :meth:`decide`)."""
        self.record_content = record_content
        self.web = web or (WebSearch(s.websearch) if s.websearch.enabled else None)
        """The web-search handoff; None (no key): the knowledge base answers or nobody does."""

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.web is not None:
            await self.web.aclose()

    async def sources(
        self, question: str, *, k: int | None, mode: RetrievalMode, filters: Metadata | None
    ) -> tuple[list[Hit], float | None]:
        modes: tuple[RetrievalMode, ...] = (mode,) if mode == "vector" else (mode, "vector")
        ranking = await self.kb.rank(question, filters=filters, modes=modes)
        hits = self.kb.hits(ranking, mode, k or self.kb.settings.context_chunks)
        return hits, ranking.best_cosine

    def relevant(self, hits: list[Hit], best: float | None) -> bool:
        return bool(hits) and best is not None and best >= self.kb.settings.min_relevance

    async def route(
        self, question: str, *, k: int | None, mode: RetrievalMode, filters: Metadata | None
    ) -> Sources:
        """The knowledge base's chunks when relevant, else the web's results when configured
        and it has some, else nothing (``no_answer``)."""
        top_k = k or self.kb.settings.context_chunks
        record = self.record_content
        with retrieval(
            self.tracer, self.kb.settings, question, mode, top_k, record_content=record
        ) as span:
            hits, best = await self.sources(question, k=k, mode=mode, filters=filters)
            span.set_attribute(Attr.RETRIEVAL_HITS, len(hits))
            src = await self.decide(question, hits, best, k=k)
            span.set_attribute(Attr.RAG_ROUTE, src.route)
        return src

    async def decide(
        self, question: str, hits: list[Hit], best: float | None, *, k: int | None
    ) -> Sources:
        """:meth:`route` from already retrieved ``hits`` (and the best cosine ``best``)."""
        if self.relevant(hits, best):
            return Sources("knowledge_base", hits=hits, best_score=best)
        if self.web is not None:
            results = await self.web.search(question, k)
            if results:
                return Sources("web_search", web=results, best_score=best)
        return Sources("no_answer", best_score=best)

    async def answer(
        self,
        question: str,
        *,
        k: int | None = None,
        mode: RetrievalMode = "hybrid",
        filters: Metadata | None = None,
        max_tokens: int | None = None,
    ) -> Answer:
        src = await self.route(question, k=k, mode=mode, filters=filters)
        return await self.answer_from(question, src, max_tokens=max_tokens)

    async def answer_from(self, question: str, src: Sources, *, max_tokens: int | None) -> Answer:
        """The answer from the sources :meth:`route` chose."""
        if src.route == "no_answer":
            return Answer(
                NO_ANSWER, [], no_answer=True, best_score=src.best_score, route="no_answer"
            )
        body = self._body(question, src, max_tokens, stream=False)
        with inference_span(self.tracer, Operation.CHAT, body, url=self.base_url) as span:
            data = await self._post(body)
            try:
                text = data["choices"][0]["message"]["content"] or ""
                finish = [str(c.get("finish_reason")) for c in data["choices"]]
            except (KeyError, IndexError, TypeError, AttributeError) as exc:
                raise UpstreamError(f"malformed chat completion: {exc!r}") from exc
            _record(span, data, finish)
        return Answer(
            text,
            src.hits,
            cited_numbers(text, src.count),
            best_score=src.best_score,
            model=data.get("model"),
            usage=data.get("usage"),
            route=src.route,
            web_results=src.web,
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
        """Events: ``rag.citations`` (the route and its sources), ``rag.delta`` (text),
        ``rag.done``. A web-search failure comes before the first event."""
        src = await self.route(question, k=k, mode=mode, filters=filters)
        async for event in self.stream_from(question, src, max_tokens=max_tokens):
            yield event

    async def stream_from(
        self, question: str, src: Sources, *, max_tokens: int | None
    ) -> AsyncIterator[dict[str, Any]]:
        """:meth:`stream` from the sources :meth:`route` chose."""
        no_answer = src.route == "no_answer"
        yield {
            "object": "rag.citations",
            "route": src.route,
            "no_answer": no_answer,
            "best_score": src.best_score,
            "citations": src.citations(),
        }
        if no_answer:
            yield {"object": "rag.delta", "delta": NO_ANSWER}
            yield {"object": "rag.done", "route": src.route, "cited": [], "no_answer": True}
            return
        parts: list[str] = []
        body = self._body(question, src, max_tokens, stream=True)
        with inference_span(self.tracer, Operation.CHAT, body, url=self.base_url):
            async for delta in self._stream_deltas(body):
                parts.append(delta)
                yield {"object": "rag.delta", "delta": delta}
        cited = cited_numbers("".join(parts), src.count)
        yield {"object": "rag.done", "route": src.route, "cited": cited, "no_answer": False}

    async def _stream_deltas(self, body: dict[str, Any]) -> AsyncIterator[str]:
        try:
            async with self.client.stream("POST", "chat/completions", json=body) as r:
                if r.status_code != 200:
                    await r.aread()
                    raise UpstreamError(f"chat model answered {r.status_code}: {r.text[:300]}")
                async for data in aiter_sse_data(r.aiter_lines()):
                    delta = _delta(data)
                    if delta:
                        yield delta
        except httpx.HTTPError as exc:  # a dead or slow chat model: an error event, not a crash
            raise UpstreamError(f"chat request failed: {exc!r}") from exc

    def _body(
        self, question: str, src: Sources, max_tokens: int | None, *, stream: bool
    ) -> dict[str, Any]:
        return {
            "model": self.kb.settings.chat_model,
            "messages": build_messages(question, src.numbered()),
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


def _record(span: trace.Span, data: dict[str, Any], finish: list[str]) -> None:
    """The response side of a ``chat`` span: model, id, finish reasons, token usage."""
    set_response(span, model=data.get("model"), response_id=data.get("id"), finish_reasons=finish)
    usage = data.get("usage")
    if isinstance(usage, dict):
        set_usage(
            span, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        )


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
