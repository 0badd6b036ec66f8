"""The model server's GenAI spans: one per generation, with its queue, prefill and decode.

The generation span (``chat {model}`` / ``text_completion {model}``, INTERNAL: the model runs in
this process) is a child of the request's SERVER span. Its phases come from the engine's
:class:`~inferstack.engines.base.Timings` once the generation ends, as child spans with the
engine's own timestamps: ``queue`` (waiting for a slot), ``prefill`` (the prompt, with the
tokens reused from the prefix cache) and ``decode``; the time to first token is an attribute
and an event.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from inferstack.engines.base import GenerateRequest, Timings, Usage
from inferstack.telemetry.genai import set_response, set_usage
from inferstack.telemetry.semconv import Attr, Operation, inference_span_name
from inferstack.telemetry.tracing import Telemetry

__all__ = ["GenerationTracer", "operation_of"]

PROVIDER = "inferstack"
_OPERATIONS = {"chat": Operation.CHAT, "completions": Operation.TEXT_COMPLETION}


def operation_of(endpoint: str) -> str:
    """``gen_ai.operation.name`` of a server endpoint label (``chat``, ``completions``)."""
    return _OPERATIONS.get(endpoint, Operation.CHAT)


class GenerationTracer:
    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    def start(
        self, request: GenerateRequest, endpoint: str, model: str | None, stream: bool
    ) -> Span | None:
        """Open the generation span (``None`` with tracing off)."""
        if not self.telemetry.enabled:
            return None
        operation = operation_of(endpoint)
        p = request.params
        attrs: dict[str, AttributeValue] = {
            Attr.OPERATION_NAME: operation,
            Attr.PROVIDER_NAME: PROVIDER,
            Attr.REQUEST_TEMPERATURE: p.temperature,
            Attr.REQUEST_TOP_P: p.top_p,
            Attr.REQUEST_STREAM: stream,
            Attr.REQUEST_ID: request.request_id,
        }
        if model:
            attrs[Attr.REQUEST_MODEL] = model
        if p.max_tokens is not None:
            attrs[Attr.REQUEST_MAX_TOKENS] = p.max_tokens
        if p.seed is not None:
            attrs[Attr.REQUEST_SEED] = p.seed
        return self.telemetry.tracer.start_span(
            inference_span_name(operation, model), kind=SpanKind.INTERNAL, attributes=attrs
        )

    def first_token(self, span: Span | None, ttft_s: float) -> None:
        if span is not None:
            span.add_event("gen_ai.first_token")
            span.set_attribute(Attr.TIME_TO_FIRST_TOKEN, ttft_s)

    def finish(
        self,
        span: Span | None,
        *,
        response_id: str,
        model: str | None,
        usage: Usage | None,
        finish_reasons: Sequence[str],
        timings: Timings | None,
        error: BaseException | None,
    ) -> None:
        if span is None:
            return
        set_response(span, model=model, response_id=response_id, finish_reasons=finish_reasons)
        if usage is not None:
            set_usage(span, usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)
        if timings is not None:
            self._phases(span, usage, timings)
        if error is not None:
            self.fail(span, error)
            return
        span.end()

    def fail(self, span: Span | None, error: BaseException) -> None:
        """End the span as failed (the generation raised, or the client went away)."""
        if span is None:
            return
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, str(error)))
        span.set_attribute(Attr.ERROR_TYPE, type(error).__name__)
        span.end()

    def _phases(self, span: Span, usage: Usage | None, t: Timings) -> None:
        tracer = self.telemetry.tracer
        parent = trace.set_span_in_context(span)
        if t.admitted_ns is not None:
            queue = tracer.start_span("queue", context=parent, start_time=t.queued_ns)
            queue.set_attribute(Attr.QUEUE_WAIT, (t.admitted_ns - t.queued_ns) / 1e9)
            queue.end(t.admitted_ns)
        if t.admitted_ns is not None and t.first_token_ns is not None:
            prefill = tracer.start_span("prefill", context=parent, start_time=t.admitted_ns)
            if usage is not None:
                prefill.set_attribute(Attr.USAGE_INPUT_TOKENS, usage.prompt_tokens)
                prefill.set_attribute(Attr.USAGE_CACHE_READ_INPUT_TOKENS, usage.cached_tokens)
                prefill.set_attribute(
                    Attr.PREFILL_TOKENS, usage.prompt_tokens - usage.cached_tokens
                )
            prefill.end(t.first_token_ns)
        if t.first_token_ns is not None and t.finished_ns is not None:
            decode = tracer.start_span("decode", context=parent, start_time=t.first_token_ns)
            if usage is not None:
                decode.set_attribute(Attr.USAGE_OUTPUT_TOKENS, usage.completion_tokens)
            decode.end(t.finished_ns)
