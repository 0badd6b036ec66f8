"""POST /v1/completions."""

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
    CompletionChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
)
from inferstack.protocol.base import random_id
from inferstack.serving.handlers.generation import GenerationService, Run
from inferstack.serving.handlers.logprobs import TextOffsets, completion_logprobs
from inferstack.serving.handlers.streaming import choice_events, sse_events, total_usage
from inferstack.serving.handlers.usage import to_protocol_usage
from inferstack.serving.http import model_response

__all__ = ["CompletionsHandler"]


class CompletionsHandler:
    def __init__(self, service: GenerationService) -> None:
        self.service = service

    async def create(self, body: CompletionRequest, request: Request) -> Response:
        service = self.service
        model = service.check_model(body.model)
        n = service.check_n(body.n)
        if body.echo and body.logprobs is not None:
            raise UnsupportedFeatureError(
                "logprobs of an echoed prompt are not reported; drop echo or logprobs",
                param="echo",
            )
        gen = GenerateRequest(
            request_id=random_id("cmpl"),
            prompt=body.single_prompt,
            params=SamplingParams(
                **body.sampling_options(self.service.engine.info.generation_defaults)
            ),
        )
        runs = await service.start(
            gen, "completions", request, n=n, stream=bool(body.stream), model=model
        )
        # NOTE: OpenAI counts a completion's text_offset from the start of the prompt's text
        # (echoed or not), so the first generated token sits at the prompt's length.
        prompt = body.single_prompt
        start = 0
        if body.logprobs is not None:
            start = len(prompt if isinstance(prompt, str) else service.engine.detokenize(prompt))
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)

            def usage_chunk(usage: Usage) -> CompletionChunk:
                return CompletionChunk(
                    id=gen.request_id, model=model, choices=[], usage=to_protocol_usage(usage)
                )

            streams = [
                _stream(run, index, gen.request_id, model, body.logprobs is not None, start)
                for index, run in enumerate(runs)
            ]
            events = sse_events(streams, runs, usage_chunk if include_usage else None)
            return service.event_stream(events, runs)
        done = await service.collect(runs, request)
        prefix = body.single_prompt if body.echo and isinstance(body.single_prompt, str) else ""
        usage = total_usage(runs)
        assert usage is not None
        choices = [
            CompletionChoice(
                index=index,
                text=prefix + item.text,
                finish_reason=item.finish_reason,
                logprobs=None
                if body.logprobs is None
                else completion_logprobs(
                    [e for d in item.deltas for e in d.logprobs], TextOffsets(start)
                ),
            )
            for index, item in enumerate(done)
        ]
        return model_response(
            CompletionResponse(
                id=gen.request_id, model=model, choices=choices, usage=to_protocol_usage(usage)
            )
        )


def _stream(
    run: Run, index: int, request_id: str, model: str, logprobs: bool, start: int
) -> AsyncIterator[str]:
    offsets = TextOffsets(start)  # fed every chunk's tokens, so offsets run on across chunks

    def text_chunk(
        text: str, finish: FinishReason | None, entries: list[TokenLogprob], index: int
    ) -> CompletionChunk:
        lp = completion_logprobs(entries, offsets) if logprobs and entries else None
        choice = CompletionChoice(index=index, text=text, finish_reason=finish, logprobs=lp)
        return CompletionChunk(id=request_id, model=model, choices=[choice])

    return choice_events(run, index, text_chunk=text_chunk)
