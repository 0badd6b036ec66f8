"""SSE framing of chunks and parsing of streams back into data payloads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from inferstack.protocol import (
    SSE_DONE,
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatDelta,
    ErrorBody,
    ErrorResponse,
    aiter_sse_data,
    iter_sse_data,
    sse_event,
)


def _chunk(content: str | None = None, finish: str | None = None) -> ChatCompletionChunk:
    choice = ChatChunkChoice.model_validate(
        {"delta": ChatDelta(content=content), "finish_reason": finish}
    )
    return ChatCompletionChunk(id="c", created=1, model="m", choices=[choice])


def test_sse_event_frames_compact_json() -> None:
    event = sse_event(_chunk("Hé"))
    assert event.startswith("data: {")
    assert event.endswith("}\n\n")
    assert event.count("\n") == 2
    assert ", " not in event
    assert ": " not in event.removeprefix("data: ")
    body = json.loads(event.removeprefix("data: "))
    assert body["choices"][0] == {
        "index": 0,
        "delta": {"content": "Hé"},
        "finish_reason": None,
        "logprobs": None,
    }


def test_sse_event_of_final_chunk_and_dict() -> None:
    final = json.loads(sse_event(_chunk(finish="stop")).removeprefix("data: "))
    assert final["choices"][0]["delta"] == {}
    assert final["choices"][0]["finish_reason"] == "stop"
    assert sse_event({"a": None, "b": [1, 2]}) == 'data: {"a":null,"b":[1,2]}\n\n'
    error = ErrorResponse(error=ErrorBody(message="x", type="server_error"))
    assert json.loads(sse_event(error).removeprefix("data: "))["error"]["param"] is None
    assert SSE_DONE == "data: [DONE]\n\n"


def test_round_trip_through_framing_and_parsing() -> None:
    events = [sse_event(_chunk("a")), sse_event(_chunk("b\nc")), SSE_DONE]
    stream = "".join(events)
    lines = stream.split("\n")  # what httpx's iter_lines() hands over: no terminators
    payloads = list(iter_sse_data(lines))
    assert payloads[-1] == "[DONE]"
    contents = [json.loads(p)["choices"][0]["delta"]["content"] for p in payloads[:-1]]
    assert contents == ["a", "b\nc"]
    # Whole events or arbitrary multi-line items parse the same.
    assert list(iter_sse_data(events)) == payloads
    assert list(iter_sse_data([stream])) == payloads


def test_parser_follows_the_sse_rules() -> None:
    lines = [
        ": keep-alive comment",
        "event: message",
        "id: 7",
        "data:no-space",
        "",
        "data: line one",
        "data: line two",
        "retry: 100",
        "",
        "",
        "data:  two spaces keep one\r\n",
        "\r\n",
        "data: unterminated at the end",
    ]
    assert list(iter_sse_data(lines)) == [
        "no-space",
        "line one\nline two",
        " two spaces keep one",
        "unterminated at the end",
    ]


def test_lines_with_their_terminators_do_not_end_events_early() -> None:
    lines = ["data: a\n", "data: b\n", "\n", "data: [DONE]\n", "\n"]
    assert list(iter_sse_data(lines)) == ["a\nb", "[DONE]"]


def test_unicode_line_separator_inside_json_is_not_a_line_break() -> None:
    event = sse_event({"text": "a\u2028b"})
    assert list(iter_sse_data([event])) == ['{"text":"a\u2028b"}']


async def test_async_parser() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in "".join([sse_event({"n": 1}), SSE_DONE]).split("\n"):
            yield line

    assert [data async for data in aiter_sse_data(lines())] == ['{"n":1}', "[DONE]"]
