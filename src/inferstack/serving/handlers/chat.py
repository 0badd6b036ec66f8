"""POST /v1/chat/completions."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import Response

from inferstack.engines.base import (
    FinishReason,
    GenerateRequest,
    SamplingParams,
    TokenLogprob,
    Usage,
)
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
from inferstack.protocol import FinishReason as WireFinishReason
from inferstack.protocol.base import random_id
from inferstack.serving.handlers.chat_tools import stream_with_tools
from inferstack.serving.handlers.generation import Completed, GenerationService, Run
from inferstack.serving.handlers.logprobs import chat_logprobs
from inferstack.serving.handlers.streaming import choice_events, sse_events, total_usage
from inferstack.serving.handlers.tools import ToolPlan, looks_like_call, plan_output, to_tool_calls
from inferstack.serving.handlers.usage import to_protocol_usage
from inferstack.serving.http import model_response

__all__ = ["ChatHandler"]


class ChatHandler:
    def __init__(self, service: GenerationService) -> None:
        self.service = service

    async def create(self, body: ChatCompletionRequest, request: Request) -> Response:
        service = self.service
        model = service.check_model(body.model)
        n = service.check_n(body.n)
        plan = plan_output(body, service.engine)
        if body.logprobs and plan.calls != "never":
            raise UnsupportedFeatureError(
                "logprobs are not reported for tool calls (they are for response_format)",
                param="logprobs",
            )
        rendered = service.engine.render_chat(body.message_dicts(), tools=plan.tools or None)
        params = SamplingParams(**body.sampling_options(service.engine.info.generation_defaults))
        if not params.ignore_eos:  # the template's own end of turn, like an end-of-generation token
            params.stop = [*params.stop, *rendered.stop]
        params.structured = plan.structured
        gen = GenerateRequest(
            request_id=random_id("chatcmpl"),
            prompt=rendered.prompt,
            params=params,
            add_special=rendered.add_special,
        )
        runs = await service.start(gen, "chat", request, n=n, stream=bool(body.stream), model=model)
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            choices = [
                stream_with_tools(run, index, gen.request_id, model, plan)
                if plan.calls != "never"
                else _stream(run, index, gen.request_id, model)
                for index, run in enumerate(runs)
            ]

            def usage_chunk(usage: Usage) -> ChatCompletionChunk:
                return ChatCompletionChunk(
                    id=gen.request_id, model=model, choices=[], usage=to_protocol_usage(usage)
                )

            events = sse_events(choices, runs, usage_chunk if include_usage else None)
            return service.event_stream(events, runs)
        done = await service.collect(runs, request)
        usage = total_usage(runs)
        assert usage is not None
        return model_response(
            ChatCompletionResponse(
                id=gen.request_id,
                model=model,
                choices=[_choice(index, item, plan, body) for index, item in enumerate(done)],
                usage=to_protocol_usage(usage),
            )
        )


def _choice(index: int, done: Completed, plan: ToolPlan, body: ChatCompletionRequest) -> ChatChoice:
    message, finish = _message(done.text, done.finish_reason, plan)
    logprobs = None
    if body.logprobs:
        logprobs = chat_logprobs([e for delta in done.deltas for e in delta.logprobs])
    return ChatChoice(index=index, message=message, finish_reason=finish, logprobs=logprobs)


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


def _stream(run: Run, index: int, request_id: str, model: str) -> AsyncIterator[str]:
    def text_chunk(
        text: str, finish: FinishReason | None, logprobs: list[TokenLogprob], index: int
    ) -> ChatCompletionChunk:
        delta = ChatDelta(content=text) if text else ChatDelta()
        choice = ChatChunkChoice(
            index=index,
            delta=delta,
            finish_reason=finish,
            logprobs=chat_logprobs(logprobs) if logprobs else None,
        )
        return ChatCompletionChunk(id=request_id, model=model, choices=[choice])

    opening = ChatCompletionChunk(
        id=request_id,
        model=model,
        choices=[ChatChunkChoice(index=index, delta=ChatDelta(role="assistant", content=""))],
    )
    return choice_events(run, index, text_chunk=text_chunk, opening=opening)
