"""POST /v1/chat/completions."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import Response

from inferstack.engines.base import FinishReason, GenerateRequest, SamplingParams, Usage
from inferstack.errors import UnsupportedFeatureError
from inferstack.protocol import (
    ChatChoice,
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatDelta,
    ChatResponseMessage,
)
from inferstack.protocol.base import random_id
from inferstack.serving.handlers.generation import GenerationService, Run
from inferstack.serving.handlers.streaming import stream_events
from inferstack.serving.handlers.usage import to_protocol_usage
from inferstack.serving.http import model_response, sse_response

__all__ = ["ChatHandler"]


class ChatHandler:
    def __init__(self, service: GenerationService) -> None:
        self.service = service

    async def create(self, body: ChatCompletionRequest, request: Request) -> Response:
        service = self.service
        model = service.check_model(body.model)
        if body.tools or body.functions:
            if body.tool_choice not in (None, "none") or body.function_call not in (None, "none"):
                raise UnsupportedFeatureError("tool calling is not supported yet", param="tools")
        if body.response_format is not None and body.response_format.type != "text":
            raise UnsupportedFeatureError(
                "structured output is not supported yet", param="response_format"
            )
        rendered = service.engine.render_chat(body.message_dicts())
        params = SamplingParams(**body.sampling_options())
        params.stop = [*params.stop, *rendered.stop]
        gen = GenerateRequest(
            request_id=random_id("chatcmpl"),
            prompt=rendered.prompt,
            params=params,
            add_special=rendered.add_special,
        )
        run = await service.start(gen, "chat")
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return sse_response(_stream(run, gen.request_id, model, include_usage))
        done = await run.collect(request)
        return model_response(
            ChatCompletionResponse(
                id=gen.request_id,
                model=model,
                choices=[
                    ChatChoice(
                        message=ChatResponseMessage(content=done.text),
                        finish_reason=done.finish_reason,
                    )
                ],
                usage=to_protocol_usage(done.usage),
            )
        )



def _stream(run: Run, request_id: str, model: str, include_usage: bool) -> AsyncIterator[str]:
    def text_chunk(text: str, finish: FinishReason | None) -> ChatCompletionChunk:
        delta = ChatDelta(content=text) if text else ChatDelta()
        choice = ChatChunkChoice(delta=delta, finish_reason=finish)
        return ChatCompletionChunk(id=request_id, model=model, choices=[choice])

    def usage_chunk(usage: Usage) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=request_id, model=model, choices=[], usage=to_protocol_usage(usage)
        )

    opening = ChatCompletionChunk(
        id=request_id,
        model=model,
        choices=[ChatChunkChoice(delta=ChatDelta(role="assistant", content=""))],
    )
    return stream_events(
        run,
        text_chunk=text_chunk,
        usage_chunk=usage_chunk if include_usage else None,
        opening=opening,
    )
