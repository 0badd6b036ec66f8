"""The gateway's spans, in the GenAI conventions, under the request's SERVER span::

    POST /v1/chat/completions            SERVER   (TracingMiddleware)
      auth                               INTERNAL
      guardrail input                    INTERNAL (when the guardrail is on)
      chat {model}                       CLIENT   the logical call, all retries: gen_ai.* attrs
        cache lookup                     INTERNAL (when the cache is on)
        route {group}                    INTERNAL the routing decision
        upstream {deployment}            CLIENT   one per attempt; its traceparent goes upstream

The ``chat {model}`` span ends when the call is settled (after the last byte of a stream).
Message content is recorded only when telemetry says so or the key opted in
(``metadata.record_content``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode

from inferstack.gateway.call import ProxyCall
from inferstack.gateway.deployments import Deployment
from inferstack.gateway.usage import Usage
from inferstack.telemetry.genai import (
    operation_for_endpoint,
    request_attributes,
    set_content,
    set_response,
    set_usage,
)
from inferstack.telemetry.semconv import Attr, inference_span_name
from inferstack.telemetry.tracing import Telemetry

__all__ = ["GatewayTracer"]

PROVIDER = "inferstack"


class _NoStep:
    """The step of a tracer that records nothing: no span, no context change."""

    __slots__ = ()

    def __enter__(self) -> Span:
        return INVALID_SPAN

    def __exit__(self, *exc: object) -> None:
        return None


_NO_STEP = _NoStep()


class GatewayTracer:
    """The gateway's spans; with telemetry off each call costs next to nothing.

    NOTE: with telemetry off, no span of the gateway's own is opened (there is nothing to
    record), but an attempt still carries the caller's ``traceparent`` upstream, as before:
    the non-recording span of an attempt is the caller's context.
    """

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.tracer = telemetry.tracer

    @property
    def enabled(self) -> bool:
        return self.telemetry.enabled

    def step(self, name: str, **attrs: Any) -> AbstractContextManager[Span]:
        """A short INTERNAL span (auth, guardrail, cache lookup, routing)."""
        if not self.enabled:
            return _NO_STEP
        return self._step(name, attrs)

    @contextmanager
    def _step(self, name: str, attrs: dict[str, Any]) -> Iterator[Span]:
        with self.tracer.start_as_current_span(name, attributes=attrs or None) as span:
            yield span

    def start_call(self, call: ProxyCall) -> Span | None:
        """Open the logical GenAI call span (None when nothing is recorded); :meth:`end_call`
        closes it when settled."""
        if not self.enabled:
            return None
        operation = operation_for_endpoint(call.endpoint)
        attrs = request_attributes(operation, PROVIDER, call.body)
        attrs[Attr.REQUEST_ID] = call.request_id
        attrs[Attr.MODEL_GROUP] = call.model_group
        if call.key.alias:
            attrs[Attr.KEY_ALIAS] = call.key.alias
        span = self.tracer.start_span(
            inference_span_name(operation, call.model_group), kind=SpanKind.CLIENT, attributes=attrs
        )
        if self.records_content(call):
            messages = call.body.get("messages")
            prompt = call.body.get("prompt", call.body.get("input"))
            set_content(span, inputs=messages if isinstance(messages, list) else [prompt])
        return span

    def records_content(self, call: ProxyCall) -> bool:
        return self.telemetry.enabled and (self.telemetry.record_content or call.key.record_content)

    @contextmanager
    def within(self, span: Span | None) -> Iterator[None]:
        """Make ``span`` current (without ending it) for the block."""
        if span is None:
            yield
            return
        with trace.use_span(span, end_on_exit=False):
            yield

    def start_attempt(self, call: ProxyCall, dep: Deployment, headers: dict[str, str]) -> Span:
        """One upstream attempt (CLIENT); writes its ``traceparent`` into ``headers``."""
        call.attempts += 1
        if not self.enabled:  # nothing recorded; the caller's trace context still goes on
            span = self.tracer.start_span("upstream")
            Telemetry.inject(headers, trace.set_span_in_context(span))
            return span
        url = urlsplit(dep.config.api_base)
        attrs: dict[str, Any] = {
            Attr.DEPLOYMENT: dep.id,
            Attr.ATTEMPT: call.attempts,
            Attr.HTTP_METHOD: "POST",
            Attr.SERVER_ADDRESS: url.hostname or "",
        }
        if url.port:
            attrs[Attr.SERVER_PORT] = url.port
        span = self.tracer.start_span(f"upstream {dep.id}", kind=SpanKind.CLIENT, attributes=attrs)
        Telemetry.inject(headers, trace.set_span_in_context(span))
        return span

    @staticmethod
    def end_attempt(span: Span, *, status: int | None, error: str | None = None) -> None:
        if status is not None:
            span.set_attribute(Attr.HTTP_STATUS, status)
        if error is not None or (status is not None and status >= 500):
            span.set_attribute(Attr.ERROR_TYPE, error or str(status))
            span.set_status(Status(StatusCode.ERROR, error or str(status)))
        span.end()

    @staticmethod
    def response(span: Span | None, data: dict[str, Any]) -> None:
        """What a non-streamed answer says about itself: id, model, finish reasons."""
        if span is None:
            return
        choices = data.get("choices")
        reasons = [
            str(c["finish_reason"])
            for c in (choices if isinstance(choices, list) else [])
            if isinstance(c, dict) and c.get("finish_reason")
        ]
        model = data.get("model")
        set_response(
            span,
            model=model if isinstance(model, str) else None,
            response_id=str(data["id"]) if data.get("id") else None,
            finish_reasons=reasons,
        )

    def end_call(
        self, call: ProxyCall, dep: Deployment | None, usage: Usage, status: int, cache_hit: bool
    ) -> None:
        span = call.span
        if span is None:
            return
        call.span = None
        if dep is not None:
            span.set_attribute(Attr.DEPLOYMENT, dep.id)
            if call.stream:  # a whole answer named its model itself (see response())
                span.set_attribute(Attr.RESPONSE_MODEL, dep.model)
        set_usage(span, usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)
        span.set_attribute(Attr.HTTP_STATUS, status)
        span.set_attribute(Attr.CACHE_HIT, cache_hit)
        if status >= 400:
            span.set_attribute(Attr.ERROR_TYPE, str(status))
            span.set_status(Status(StatusCode.ERROR))
        span.end()
