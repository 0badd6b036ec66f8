"""The SSE event stream of a generation, shared by chat and text completions."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from pydantic import BaseModel

from inferstack.engines.base import FinishReason, Usage
from inferstack.errors import InferstackError, error_sse
from inferstack.protocol import SSE_DONE, sse_event
from inferstack.serving.handlers.generation import Run

__all__ = ["stream_events"]


async def stream_events(
    run: Run,
    *,
    text_chunk: Callable[[str, FinishReason | None], BaseModel],
    usage_chunk: Callable[[Usage], BaseModel] | None,
    opening: BaseModel | None = None,
) -> AsyncIterator[str]:
    """Frame a started generation as server-sent events.

    ``text_chunk`` builds the chunk for a piece of text (and the finishing chunk, with empty
    text), ``usage_chunk`` the final usage-only chunk when the client asked for one. An engine
    error after the first byte becomes an SSE error event; every stream ends with ``[DONE]``.
    """
    if opening is not None:
        yield sse_event(opening)
    try:
        async with contextlib.aclosing(run.deltas()) as deltas:  # type: ignore[type-var]
            async for delta in deltas:
                if delta.text:
                    yield sse_event(text_chunk(delta.text, None))
                if delta.finish_reason is not None:
                    yield sse_event(text_chunk("", delta.finish_reason))
                    if usage_chunk is not None and delta.usage is not None:
                        yield sse_event(usage_chunk(delta.usage))
    except InferstackError as exc:
        yield error_sse(exc)
    yield SSE_DONE
