"""POST /v1/completions."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import Response

from inferstack.engines.base import FinishReason, GenerateRequest, SamplingParams, Usage
from inferstack.protocol import (
    CompletionChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
)
from inferstack.protocol.base import random_id
from inferstack.serving.handlers.generation import GenerationService, Run
from inferstack.serving.handlers.streaming import stream_events
from inferstack.serving.handlers.usage import to_protocol_usage
from inferstack.serving.http import model_response, sse_response

__all__ = ["CompletionsHandler"]


class CompletionsHandler:
    def __init__(self, service: GenerationService) -> None:
        self.service = service

    async def create(self, body: CompletionRequest, request: Request) -> Response:
        model = self.service.check_model(body.model)
        gen = GenerateRequest(
            request_id=random_id("cmpl"),
            prompt=body.single_prompt,
            params=SamplingParams(**body.sampling_options()),
        )
        run = await self.service.start(gen, "completions", model=model, stream=bool(body.stream))
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return sse_response(_stream(run, gen.request_id, model, include_usage))
        done = await run.collect(request)
        prefix = body.single_prompt if body.echo and isinstance(body.single_prompt, str) else ""
        choice = CompletionChoice(text=prefix + done.text, finish_reason=done.finish_reason)
        return model_response(
            CompletionResponse(
                id=gen.request_id,
                model=model,
                choices=[choice],
                usage=to_protocol_usage(done.usage),
            )
        )


def _stream(run: Run, request_id: str, model: str, include_usage: bool) -> AsyncIterator[str]:
    def text_chunk(text: str, finish: FinishReason | None) -> CompletionChunk:
        choice = CompletionChoice(text=text, finish_reason=finish)
        return CompletionChunk(id=request_id, model=model, choices=[choice])

    def usage_chunk(usage: Usage) -> CompletionChunk:
        return CompletionChunk(
            id=request_id, model=model, choices=[], usage=to_protocol_usage(usage)
        )

    return stream_events(
        run, text_chunk=text_chunk, usage_chunk=usage_chunk if include_usage else None
    )
