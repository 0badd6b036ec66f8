"""POST /v1/chat/completions."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import Response

from inferstack.engines.base import FinishReason, GenerateRequest, SamplingParams, Usage
from inferstack.protocol import (
    ChatChoice,
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatDelta,
    ChatResponseMessage,
)
from inferstack.protocol import FinishReason as WireFinishReason
from inferstack.protocol.base import random_id
from inferstack.serving.handlers.chat_tools import stream_with_tools
from inferstack.serving.handlers.generation import GenerationService, Run
from inferstack.serving.handlers.streaming import stream_events
from inferstack.serving.handlers.tools import ToolPlan, looks_like_call, plan_output, to_tool_calls
from inferstack.serving.handlers.usage import to_protocol_usage
from inferstack.serving.http import model_response, sse_response

__all__ = ["ChatHandler"]


class ChatHandler:
    def __init__(self, service: GenerationService) -> None:
        self.service = service

    async def create(self, body: ChatCompletionRequest, request: Request) -> Response:
        service = self.service
        model = service.check_model(body.model)
        plan = plan_output(body)
        rendered = service.engine.render_chat(body.message_dicts(), tools=plan.tools or None)
        params = SamplingParams(**body.sampling_options())
        params.stop = [*params.stop, *rendered.stop]
        params.structured = plan.structured
        gen = GenerateRequest(
            request_id=random_id("chatcmpl"),
            prompt=rendered.prompt,
            params=params,
            add_special=rendered.add_special,
        )
        run = await service.start(gen, "chat", model=model, stream=bool(body.stream))
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            if plan.calls != "never":
                events = stream_with_tools(run, gen.request_id, model, plan, include_usage)
            else:
                events = _stream(run, gen.request_id, model, include_usage)
            return sse_response(events)
        done = await run.collect(request)
        message, finish = _message(done.text, done.finish_reason, plan)
        return model_response(
            ChatCompletionResponse(
                id=gen.request_id,
                model=model,
                choices=[ChatChoice(message=message, finish_reason=finish)],
                usage=to_protocol_usage(done.usage),
            )
        )


def _message(
    text: str, finish: FinishReason, plan: ToolPlan
) -> tuple[ChatResponseMessage, WireFinishReason]:
    """The assistant message: prose, or the tool calls the constrained output holds."""
    if plan.calls == "never" or not looks_like_call(text):
        return ChatResponseMessage(content=text), finish
    calls = to_tool_calls(text)
    if plan.legacy:
        message = ChatResponseMessage(content=None, function_call=calls[0].function)
        return message, "function_call" if finish == "stop" else finish
    return ChatResponseMessage(content=None, tool_calls=calls), (
        "tool_calls" if finish == "stop" else finish
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
