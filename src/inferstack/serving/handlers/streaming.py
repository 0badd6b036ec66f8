"""The SSE event stream of a generation, shared by chat and text completions.

Each choice streams its own chunks (:func:`choice_events`); :func:`sse_events` interleaves the
choices of an ``n`` > 1 request as their tokens come, then adds the usage chunk the client asked
for and ``[DONE]``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from pydantic import BaseModel

from inferstack.engines.base import FinishReason, TokenLogprob, Usage
from inferstack.errors import InferstackError, error_sse
from inferstack.protocol import SSE_DONE, sse_event
from inferstack.serving.handlers.generation import Run

__all__ = ["TextChunk", "choice_events", "sse_events", "total_usage"]

TextChunk = Callable[[str, FinishReason | None, list[TokenLogprob], int], BaseModel]
"""Builds the chunk for a piece of text (and the finishing chunk, with empty text) of the
choice with the given index, with the logprobs of its tokens."""


async def choice_events(
    run: Run, index: int, *, text_chunk: TextChunk, opening: BaseModel | None = None
) -> AsyncIterator[str]:
    """One choice's chunks. An engine error after the first byte becomes an SSE error event."""
    if opening is not None:
        yield sse_event(opening)
    try:
        async with contextlib.aclosing(run.deltas()) as deltas:  # type: ignore[type-var]
            async for delta in deltas:
                if delta.text or delta.logprobs:
                    yield sse_event(text_chunk(delta.text, None, delta.logprobs, index))
                if delta.finish_reason is not None:
                    yield sse_event(text_chunk("", delta.finish_reason, [], index))
    except InferstackError as exc:
        yield error_sse(exc)


def total_usage(runs: list[Run]) -> Usage | None:
    """The usage of all choices: the prompt once, every choice's completion tokens."""
    usages = [run.usage for run in runs]
    if any(u is None for u in usages):
        return None
    first = usages[0]
    assert first is not None
    completion = sum(u.completion_tokens for u in usages if u is not None)
    return Usage(first.prompt_tokens, completion, cached_tokens=first.cached_tokens)


async def sse_events(
    choices: list[AsyncIterator[str]],
    runs: list[Run],
    usage_chunk: Callable[[Usage], BaseModel] | None,
) -> AsyncIterator[str]:
    """Every choice's events, then the usage chunk (when asked for) and ``[DONE]``."""
    async with contextlib.aclosing(_merge(choices)) as events:  # type: ignore[type-var]
        async for event in events:
            yield event
    usage = total_usage(runs)
    if usage_chunk is not None and usage is not None:
        yield sse_event(usage_chunk(usage))
    yield SSE_DONE


async def _merge(streams: list[AsyncIterator[str]]) -> AsyncIterator[str]:
    """Events of all ``streams`` as they come (one stream is passed through as it is)."""
    if len(streams) == 1:
        async for event in streams[0]:
            yield event
        return
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def pump(stream: AsyncIterator[str]) -> None:
        try:
            async for event in stream:
                await queue.put(event)
        finally:
            await queue.put(None)

    tasks = [asyncio.ensure_future(pump(stream)) for stream in streams]
    try:
        remaining = len(tasks)
        while remaining:
            item = await queue.get()
            if item is None:
                remaining -= 1
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for stream in streams:
            with contextlib.suppress(RuntimeError):
                await stream.aclose()  # type: ignore[attr-defined]
