"""Embeddings over the OpenAI API (``POST {base_url}/embeddings``): batched, concurrent within a
bound, and strict — a failed or malformed answer is an error, never a made-up vector.

Each request is an ``embeddings {model}`` CLIENT span (inputs, vector dimensions, input tokens
when the server reports them) whose ``traceparent`` the request carries."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from opentelemetry import trace

from inferstack.errors import UpstreamError
from inferstack.telemetry.genai import embeddings_span
from inferstack.telemetry.propagation import async_hooks
from inferstack.telemetry.semconv import Attr

__all__ = ["EmbedFailure", "Embedder", "EmbeddingError"]


class EmbeddingError(UpstreamError):
    """The embedding endpoint failed or answered something that is not a usable vector."""


@dataclass(frozen=True)
class EmbedFailure:
    """One input that could not be embedded, and why."""

    label: str
    error: str


class Embedder:
    """Client of ``/v1/embeddings``; one instance per event loop."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        batch_size: int = 32,
        concurrency: int = 4,
        timeout: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
        tracer: trace.Tracer | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/") + "/"
        self.client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
            transport=transport,
            event_hooks=async_hooks(),
        )
        self.tracer = tracer or trace.NoOpTracer()
        self.model = model
        self.batch_size = batch_size
        self._limit = asyncio.Semaphore(concurrency)
        self.dimensions: int | None = None
        self.requests = 0

    async def aclose(self) -> None:
        await self.client.aclose()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors for ``texts`` in order; raises :class:`EmbeddingError` on any failure."""
        batches = [
            list(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)
        ]
        results = await asyncio.gather(*(self._request(b) for b in batches))
        return [v for batch in results for v in batch]

    async def embed_labelled(
        self, items: Sequence[tuple[str, str]]
    ) -> tuple[dict[str, list[float]], list[EmbedFailure]]:
        """Embed (label, text) pairs; a failing batch is retried input by input, so each
        failure names its own input and the others still get their vectors."""
        batches = [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]
        vectors: dict[str, list[float]] = {}
        failures: list[EmbedFailure] = []

        async def one_batch(batch: Sequence[tuple[str, str]]) -> None:
            try:
                got = await self._request([t for _, t in batch])
            except EmbeddingError:
                if len(batch) == 1:
                    raise
                for item in batch:
                    await one_item(item)
                return
            vectors.update(zip((label for label, _ in batch), got, strict=True))

        async def one_item(item: tuple[str, str]) -> None:
            try:
                vectors[item[0]] = (await self._request([item[1]]))[0]
            except EmbeddingError as exc:
                failures.append(EmbedFailure(item[0], exc.message))

        async def guarded(batch: Sequence[tuple[str, str]]) -> None:
            try:
                await one_batch(batch)
            except EmbeddingError as exc:
                failures.append(EmbedFailure(batch[0][0], exc.message))

        await asyncio.gather(*(guarded(b) for b in batches))
        return vectors, failures

    async def _request(self, texts: list[str]) -> list[list[float]]:
        async with self._limit:
            self.requests += 1
            with embeddings_span(self.tracer, self.model, url=self.base_url) as span:
                span.set_attribute(Attr.EMBEDDINGS_INPUTS, len(texts))
                vectors = await self._post(texts, span)
                span.set_attribute(Attr.EMBEDDINGS_DIMENSION_COUNT, len(vectors[0]))
                return vectors

    async def _post(self, texts: list[str], span: trace.Span) -> list[list[float]]:
        try:
            r = await self.client.post("embeddings", json={"model": self.model, "input": texts})
        except httpx.HTTPError as exc:
            raise EmbeddingError(f"embedding request failed: {exc!r}") from exc
        if r.status_code != 200:
            raise EmbeddingError(f"embedding endpoint answered {r.status_code}: {_detail(r)}")
        try:
            body = r.json()
        except ValueError as exc:
            raise EmbeddingError(f"malformed embedding response: {exc!r}") from exc
        vectors = self._vectors(body, len(texts))
        usage = body.get("usage") if isinstance(body, dict) else None
        if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
            span.set_attribute(Attr.USAGE_INPUT_TOKENS, usage["prompt_tokens"])
        return vectors

    def _vectors(self, body: Any, expected: int) -> list[list[float]]:
        try:
            data = sorted(body["data"], key=lambda d: d["index"])
            vectors = [[float(x) for x in d["embedding"]] for d in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"malformed embedding response: {exc!r}") from exc
        if len(vectors) != expected:
            raise EmbeddingError(f"asked for {expected} embeddings, got {len(vectors)}")
        for v in vectors:
            if self.dimensions is None:
                self.dimensions = len(v)
            if len(v) != self.dimensions:
                raise EmbeddingError(f"got a {len(v)}-dim vector, expected {self.dimensions}")
            norm = math.sqrt(sum(x * x for x in v))
            if not math.isfinite(norm) or norm == 0.0:
                raise EmbeddingError("got a zero or non-finite vector")
        return vectors


def _detail(r: httpx.Response) -> str:
    try:
        body = r.json()
        return str(body.get("error", {}).get("message") or body)[:300]
    except ValueError:
        return r.text[:300]
