"""The relay on its own: what it passes, strips and counts when a whole answer (content events,
the usage chunk, ``[DONE]``) arrives in one read, and the end of the body drained after it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx

from inferstack.gateway.stream import Relay


def _event(data: dict) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def _content(text: str) -> bytes:
    return _event({"choices": [{"index": 0, "delta": {"content": text}}]})


USAGE = {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}


async def _relay(chunks: list[bytes], *, strip_usage: bool) -> tuple[Relay, bytes, list[Relay]]:
    closed: list[Relay] = []
    rest = chunks[1:]

    async def more() -> AsyncIterator[bytes]:
        for chunk in rest:
            yield chunk

    async def on_close(relay: Relay) -> None:
        closed.append(relay)

    async def spawn(work) -> None:
        await work

    relay = Relay(
        httpx.Response(200),
        more(),
        chunks[0],
        strip_usage=strip_usage,
        guardrail=None,
        on_close=on_close,
        spawn=spawn,
        deployment="d1",
        prompt_estimate=9,
    )
    sent: list[bytes] = []

    async def send(message) -> None:
        sent.append(message["body"])

    await relay.pump(send)
    return relay, b"".join(sent), closed


async def test_a_whole_answer_in_one_read_keeps_content_and_strips_only_usage() -> None:
    # content events around the usage chunk pass as they are and count as relayed, one of
    # them with "usage": null as OpenAI sends it in every chunk
    null_usage = _event({"choices": [{"index": 0, "delta": {"content": " of"}}], "usage": None})
    contents = [_content("the"), null_usage, _content(" words")]
    whole = b"".join(contents) + _event({"choices": [], "usage": USAGE}) + b"data: [DONE]\n\n"
    relay, body, closed = await _relay([whole], strip_usage=True)
    assert body == b"".join(contents) + b"data: [DONE]\n\n"
    assert relay.status == 200 and relay.usage.total == 7 and relay.relayed == 3
    assert closed == [relay]
    relay, body, _ = await _relay([whole], strip_usage=False)
    assert body == whole and relay.usage.completion_tokens == 3


async def test_the_end_of_the_body_after_done_is_read_and_settles_once() -> None:
    contents = _content("a") + _content("b")
    relay, body, closed = await _relay([contents, b"data: [DONE]\n\n", b"", b""], strip_usage=True)
    assert body == contents + b"data: [DONE]\n\n"
    # no usage chunk came: one token per content event, the prompt estimated
    assert relay.usage.completion_tokens == 2 and relay.usage.prompt_tokens == 9
    assert closed == [relay]
