"""Streaming a chat answer that may be a tool call.

Prose streams as content deltas as usual. A tool call (constrained JSON) is gathered until the
model finishes it, then sent as OpenAI ``tool_calls`` deltas — per call, one chunk with its id
and name, one with its arguments — so clients that reassemble deltas get the same call as the
non-streamed response.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from inferstack.errors import InferstackError, error_sse
from inferstack.protocol import (
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatDelta,
    DeltaFunctionCall,
    DeltaToolCall,
    sse_event,
)
from inferstack.serving.handlers.generation import Run
from inferstack.serving.handlers.tools import ToolPlan, looks_like_call, to_tool_calls

__all__ = ["stream_with_tools"]


async def stream_with_tools(
    run: Run, index: int, request_id: str, model: str, plan: ToolPlan
) -> AsyncIterator[str]:
    """The chunks of choice ``index`` (usage and ``[DONE]`` come from the caller)."""

    def chunk(delta: ChatDelta, finish: str | None = None) -> str:
        choice = ChatChunkChoice(index=index, delta=delta, finish_reason=finish)  # type: ignore[arg-type]
        return sse_event(ChatCompletionChunk(id=request_id, model=model, choices=[choice]))

    yield chunk(ChatDelta(role="assistant", content=""))
    mode = "call" if plan.calls == "always" else None  # None: not known yet
    gathered: list[str] = []
    try:
        async with contextlib.aclosing(run.deltas()) as deltas:  # type: ignore[type-var]
            async for delta in deltas:
                if delta.text and mode == "text":
                    yield chunk(ChatDelta(content=delta.text))
                elif delta.text:
                    gathered.append(delta.text)
                    text = "".join(gathered)
                    if mode is None and text.strip():
                        mode = "call" if looks_like_call(text) else "text"
                        if mode == "text":
                            yield chunk(ChatDelta(content=text))
                if delta.finish_reason is None:
                    continue
                finish: str = delta.finish_reason
                if mode == "call":
                    for piece in _call_deltas("".join(gathered), plan.legacy):
                        yield chunk(piece)
                    if finish == "stop":
                        finish = "function_call" if plan.legacy else "tool_calls"
                elif mode is None and gathered:
                    yield chunk(ChatDelta(content="".join(gathered)))
                yield chunk(ChatDelta(), finish)
    except InferstackError as exc:
        yield error_sse(exc)


def _call_deltas(text: str, legacy: bool) -> list[ChatDelta]:
    deltas = []
    for index, call in enumerate(to_tool_calls(text)):
        name, arguments = call.function.name, call.function.arguments
        if legacy:
            deltas += [
                ChatDelta(function_call=DeltaFunctionCall(name=name, arguments="")),
                ChatDelta(function_call=DeltaFunctionCall(arguments=arguments)),
            ]
            break  # the legacy shape has one call
        deltas += [
            ChatDelta(
                tool_calls=[
                    DeltaToolCall(
                        index=index,
                        id=call.id,
                        type="function",
                        function=DeltaFunctionCall(name=name, arguments=""),
                    )
                ]
            ),
            ChatDelta(
                tool_calls=[
                    DeltaToolCall(index=index, function=DeltaFunctionCall(arguments=arguments))
                ]
            ),
        ]
    return deltas
