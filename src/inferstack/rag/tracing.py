"""The ``retrieval {collection}`` span of one retrieval, shared by the RAG service and
``inferstack ask``: the collection as ``gen_ai.data_source.id``, top-k, mode and store; the
caller adds the hits and the route. The query text only with content recording on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.trace import Span, Tracer

from inferstack.rag.settings import RagSettings
from inferstack.telemetry.genai import retrieval_span
from inferstack.telemetry.semconv import Attr

__all__ = ["retrieval"]


@contextmanager
def retrieval(
    tracer: Tracer,
    settings: RagSettings,
    query: str,
    mode: str,
    k: int,
    *,
    record_content: bool = False,
) -> Iterator[Span]:
    with retrieval_span(
        tracer, settings.collection, top_k=k, query=query if record_content else None
    ) as span:
        span.set_attribute(Attr.RETRIEVAL_MODE, mode)
        span.set_attribute(Attr.RETRIEVAL_STORE, settings.store)
        yield span
