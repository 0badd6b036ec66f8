"""Span helpers for GenAI operations, named and attributed as the GenAI conventions say.

``request_attributes`` reads an OpenAI-shaped request body; ``set_usage`` / ``set_response``
fill the response side; the ``*_span`` context managers open ``execute_tool {tool}``,
``invoke_agent {agent}``, ``retrieval {source}``, ``embeddings {model}`` and (for a call to a
model over HTTP) ``{operation} {model}`` spans for the apps.
Message content goes on spans only through :func:`set_content`, which callers invoke only
when content recording is on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.util.types import AttributeValue

from inferstack.telemetry.semconv import (
    OPERATION_KIND,
    Attr,
    Operation,
    agent_span_name,
    embeddings_span_name,
    inference_span_name,
    retrieval_span_name,
    tool_span_name,
)

__all__ = [
    "agent_span",
    "embeddings_span",
    "inference_span",
    "operation_for_endpoint",
    "request_attributes",
    "retrieval_span",
    "server_attributes",
    "set_content",
    "set_response",
    "set_usage",
    "tool_span",
]

_ENDPOINT_OPERATION = {
    "/chat/completions": Operation.CHAT,
    "/completions": Operation.TEXT_COMPLETION,
    "/embeddings": Operation.EMBEDDINGS,
}


def operation_for_endpoint(endpoint: str) -> str:
    """``gen_ai.operation.name`` of an OpenAI endpoint path (below ``/v1``)."""
    return _ENDPOINT_OPERATION.get(endpoint, Operation.CHAT)


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def request_attributes(
    operation: str, provider: str, body: Mapping[str, Any]
) -> dict[str, AttributeValue]:
    """The ``gen_ai.request.*`` attributes of an OpenAI request body (fields sent only)."""
    attrs: dict[str, AttributeValue] = {
        Attr.OPERATION_NAME: operation,
        Attr.PROVIDER_NAME: provider,
    }
    model = body.get("model")
    if isinstance(model, str):
        attrs[Attr.REQUEST_MODEL] = model
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    for key, value in (
        (Attr.REQUEST_MAX_TOKENS, max_tokens),
        (Attr.REQUEST_TEMPERATURE, body.get("temperature")),
        (Attr.REQUEST_TOP_P, body.get("top_p")),
        (Attr.REQUEST_SEED, body.get("seed")),
    ):
        number = _number(value)
        if number is not None:
            attrs[key] = number
    if operation != Operation.EMBEDDINGS:
        attrs[Attr.REQUEST_STREAM] = body.get("stream") is True
    return attrs


def set_usage(span: Span, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> None:
    """Token usage in the conventions' names (cache reads only when there were any)."""
    span.set_attribute(Attr.USAGE_INPUT_TOKENS, input_tokens)
    span.set_attribute(Attr.USAGE_OUTPUT_TOKENS, output_tokens)
    if cached_tokens:
        span.set_attribute(Attr.USAGE_CACHE_READ_INPUT_TOKENS, cached_tokens)


def set_response(
    span: Span,
    *,
    model: str | None = None,
    response_id: str | None = None,
    finish_reasons: Sequence[str] = (),
) -> None:
    if model:
        span.set_attribute(Attr.RESPONSE_MODEL, model)
    if response_id:
        span.set_attribute(Attr.RESPONSE_ID, response_id)
    if finish_reasons:
        span.set_attribute(Attr.RESPONSE_FINISH_REASONS, list(finish_reasons))


def set_content(
    span: Span, *, inputs: Sequence[Any] | None = None, outputs: Sequence[Any] | None = None
) -> None:
    """Prompts and completions as JSON (``gen_ai.input.messages`` / ``.output.messages``).

    Call only when content recording is on (off by default)."""
    if inputs is not None:
        span.set_attribute(Attr.INPUT_MESSAGES, json.dumps(list(inputs), ensure_ascii=False))
    if outputs is not None:
        span.set_attribute(Attr.OUTPUT_MESSAGES, json.dumps(list(outputs), ensure_ascii=False))


@contextmanager
def tool_span(tracer: Tracer, tool: str, *, call_id: str | None = None) -> Iterator[Span]:
    """``execute_tool {tool}`` (INTERNAL): a tool run in this process."""
    attrs: dict[str, AttributeValue] = {
        Attr.OPERATION_NAME: Operation.EXECUTE_TOOL,
        Attr.TOOL_NAME: tool,
    }
    if call_id:
        attrs[Attr.TOOL_CALL_ID] = call_id
    with tracer.start_as_current_span(
        tool_span_name(tool), kind=OPERATION_KIND[Operation.EXECUTE_TOOL], attributes=attrs
    ) as span:
        yield span


@contextmanager
def agent_span(tracer: Tracer, agent: str, *, provider: str = "inferstack") -> Iterator[Span]:
    """``invoke_agent {agent}`` (INTERNAL: the agent runs in this process)."""
    attrs: dict[str, AttributeValue] = {
        Attr.OPERATION_NAME: Operation.INVOKE_AGENT,
        Attr.PROVIDER_NAME: provider,
        Attr.AGENT_NAME: agent,
    }
    with tracer.start_as_current_span(
        agent_span_name(agent), kind=OPERATION_KIND[Operation.INVOKE_AGENT], attributes=attrs
    ) as span:
        yield span


@contextmanager
def retrieval_span(
    tracer: Tracer,
    source: str,
    *,
    provider: str = "inferstack",
    top_k: int | None = None,
    query: str | None = None,
) -> Iterator[Span]:
    """``retrieval {source}`` (CLIENT): a query to a vector store or search index.

    ``query`` is content: pass it only when content recording is on."""
    attrs: dict[str, AttributeValue] = {
        Attr.OPERATION_NAME: Operation.RETRIEVAL,
        Attr.PROVIDER_NAME: provider,
        Attr.DATA_SOURCE_ID: source,
    }
    if top_k is not None:
        attrs[Attr.RETRIEVAL_TOP_K] = top_k
    if query is not None:
        attrs[Attr.RETRIEVAL_QUERY_TEXT] = query
    with (
        tracer.start_as_current_span(
            retrieval_span_name(source), kind=OPERATION_KIND[Operation.RETRIEVAL], attributes=attrs
        ) as span,
        _error_type(span),
    ):
        yield span


@contextmanager
def inference_span(
    tracer: Tracer,
    operation: str,
    body: Mapping[str, Any],
    *,
    provider: str = "inferstack",
    url: str | None = None,
) -> Iterator[Span]:
    """``{operation} {model}`` (CLIENT): a call to a model over HTTP with the OpenAI request
    ``body``, attributed as :func:`request_attributes` says (plus ``server.*`` from ``url``)."""
    attrs = request_attributes(operation, provider, body)
    if url:
        attrs.update(server_attributes(url))
    model = body.get("model")
    name = inference_span_name(operation, model if isinstance(model, str) else None)
    with (
        tracer.start_as_current_span(
            name, kind=OPERATION_KIND.get(operation, SpanKind.CLIENT), attributes=attrs
        ) as span,
        _error_type(span),
    ):
        yield span


@contextmanager
def _error_type(span: Span) -> Iterator[None]:
    """``error.type`` (the exception's class) on a span whose operation failed; the span's
    status and exception event come from ``start_as_current_span``."""
    try:
        yield
    except Exception as exc:  # re-raised: only named on the span
        span.set_attribute(Attr.ERROR_TYPE, type(exc).__name__)
        raise


def server_attributes(url: str) -> dict[str, AttributeValue]:
    """``server.address`` / ``server.port`` of the service at ``url``."""
    parts = urlsplit(url)
    attrs: dict[str, AttributeValue] = {}
    if parts.hostname:
        attrs[Attr.SERVER_ADDRESS] = parts.hostname
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    if port:
        attrs[Attr.SERVER_PORT] = port
    return attrs


@contextmanager
def embeddings_span(
    tracer: Tracer,
    model: str,
    *,
    provider: str = "inferstack",
    kind: SpanKind | None = None,
    url: str | None = None,
) -> Iterator[Span]:
    """``embeddings {model}`` (CLIENT unless the model runs in this process)."""
    attrs: dict[str, AttributeValue] = {
        Attr.OPERATION_NAME: Operation.EMBEDDINGS,
        Attr.PROVIDER_NAME: provider,
        Attr.REQUEST_MODEL: model,
    }
    if url:
        attrs.update(server_attributes(url))
    with (
        tracer.start_as_current_span(
            embeddings_span_name(model),
            kind=kind or OPERATION_KIND[Operation.EMBEDDINGS],
            attributes=attrs,
        ) as span,
        _error_type(span),
    ):
        yield span
