"""The agents' model calls as GenAI spans: one ``chat {model}`` CLIENT span per call (request
parameters, response model, id, finish reasons, token usage, ``server.*``), current while the
request is sent, so its ``traceparent`` reaches the gateway (the SDK client's httpx hooks)."""

from __future__ import annotations

from typing import Any

import openai
from opentelemetry.trace import Tracer

from inferstack.telemetry.genai import inference_span, set_response, set_usage
from inferstack.telemetry.semconv import Operation

__all__ = ["traced_completion"]


async def traced_completion(client: openai.AsyncOpenAI, tracer: Tracer, **kwargs: Any) -> Any:
    """``client.chat.completions.create(**kwargs)`` inside a ``chat {model}`` span; an
    ``openai.APIError`` propagates (the span names it in ``error.type``)."""
    with inference_span(tracer, Operation.CHAT, kwargs, url=str(client.base_url)) as span:
        response = await client.chat.completions.create(**kwargs)
        reasons = [str(c.finish_reason) for c in response.choices]
        set_response(span, model=response.model, response_id=response.id, finish_reasons=reasons)
        if response.usage:
            set_usage(span, response.usage.prompt_tokens, response.usage.completion_tokens)
        return response
