"""Tokens that hold part of a UTF-8 character keep their bytes in logprobs: spelled ``\\xNN``
in chat (with the true ``bytes``), ``bytes:\\xNN`` in legacy completions (as OpenAI does), and
``text_offset`` places them on the character they belong to."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from inferstack.engines.base import Delta, GenerateRequest, TokenLogprob, Usage
from inferstack.protocol import iter_sse_data
from inferstack.serving.app import build_app
from inferstack.serving.handlers.logprobs import (
    TextOffsets,
    chat_token,
    completion_logprobs,
    completion_token,
)
from inferstack.serving.settings import ServerSettings
from support.fake_engine import FakeEngine
from support.logprobs import completion_token_bytes
from support.openai_spec import assert_openai

# "Où 😀!" as a byte-fallback tokenizer may split it: "ù" and the emoji come in pieces.
PIECES = [b"O", b"\xc3", b"\xb9", b" \xf0\x9f", b"\x98\x80", b"!"]
TEXT = "Où 😀!"


def test_tokens_are_spelled_by_their_bytes_when_not_text() -> None:
    assert chat_token(b" Paris") == " Paris"
    assert chat_token(b"\xf0\x9f\x92") == "\\xf0\\x9f\\x92"  # OpenAI's chat spelling
    assert chat_token(b" \xf0\x9f") == " \\xf0\\x9f"
    assert chat_token(b"a\\\xc3") == "a\\x5c\\xc3"  # the backslash too: unambiguous
    assert completion_token(b"\xe9\x80") == "bytes:\\xe9\\x80"  # OpenAI's legacy spelling
    assert completion_token("适".encode()) == "适"
    assert completion_token(b"\xed\xa0\x80") == "bytes:\\xed\\xa0\\x80"  # a lone surrogate


def test_text_offsets_put_a_continuation_on_its_character() -> None:
    # OpenAI: "\uff0c" "bytes:\xe9\x80" "bytes:\x82" "合" after a 5-character prompt → 5, 6, 6, 7.
    offsets = TextOffsets(5)
    pieces = ["\uff0c".encode(), b"\xe9\x80", b"\x82", "合".encode(), b"x"]
    assert [offsets.feed(p) for p in pieces] == [5, 6, 6, 7, 8]


def test_completion_logprobs_keep_every_byte() -> None:
    entries = [TokenLogprob(i, p, -0.1 * i, [(i, p, -0.1 * i)]) for i, p in enumerate(PIECES)]
    lp = completion_logprobs(entries)
    assert lp.tokens == [
        "O",
        "bytes:\\xc3",
        "bytes:\\xb9",
        "bytes: \\xf0\\x9f",
        "bytes:\\x98\\x80",
        "!",
    ]
    assert [list(top) for top in lp.top_logprobs] == [[t] for t in lp.tokens]
    assert lp.text_offset == [0, 1, 1, 2, 3, 4]
    assert [TEXT[o] for o in lp.text_offset] == ["O", "ù", "ù", " ", "😀", "!"]
    assert b"".join(completion_token_bytes(t) for t in lp.tokens).decode() == TEXT


class SplitEngine(FakeEngine):
    """Answers ``TEXT`` in ``PIECES``, its text released once characters are whole (as the
    llama.cpp engine's UTF-8-safe decoder does); the likeliest alternative is a byte too."""

    async def generate(self, request: GenerateRequest) -> AsyncIterator[Delta]:
        decoded = b""
        done = 0
        for i, piece in enumerate(PIECES):
            decoded += piece
            text = decoded.decode("utf-8", errors="ignore")[done:]
            done += len(text)
            asked = request.params.logprobs  # how many alternatives; None: no logprobs
            top = [(i, piece, -0.25), (99, b"\xe4", -2.0)][: asked or 0]
            entries = [] if asked is None else [TokenLogprob(i, piece, -0.25, top)]
            yield Delta(text=text, logprobs=entries)
        yield Delta(finish_reason="stop", usage=Usage(3, len(PIECES)))


@pytest.fixture
async def split_client() -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(ServerSettings(), SplitEngine())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


def _chunks(r: httpx.Response) -> list[dict[str, Any]]:
    data = list(iter_sse_data(r.text.splitlines()))
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


async def test_chat_logprobs_carry_the_true_bytes(split_client: httpx.AsyncClient) -> None:
    body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}], "logprobs": True}
    r = await split_client.post("/v1/chat/completions", json={**body, "top_logprobs": 2})
    assert r.status_code == 200, r.text
    assert_openai(r.json(), "CreateChatCompletionResponse")
    choice = r.json()["choices"][0]
    assert choice["message"]["content"] == TEXT
    content = choice["logprobs"]["content"]
    assert [bytes(t["bytes"]) for t in content] == PIECES
    assert [t["token"] for t in content] == [
        "O",
        "\\xc3",
        "\\xb9",
        " \\xf0\\x9f",
        "\\x98\\x80",
        "!",
    ]
    assert bytes(b for t in content for b in t["bytes"]).decode() == TEXT
    assert [(t["token"], t["bytes"]) for t in content[0]["top_logprobs"]] == [
        ("O", [79]),
        ("\\xe4", [0xE4]),
    ]

    r = await split_client.post("/v1/chat/completions", json={**body, "stream": True})
    streamed = []
    for chunk in _chunks(r):
        assert_openai(chunk, "CreateChatCompletionStreamResponse")
        logprobs = chunk["choices"][0]["logprobs"] if chunk["choices"] else None
        streamed += [bytes(t["bytes"]) for t in (logprobs or {}).get("content") or []]
    assert streamed == PIECES


async def test_completion_logprobs_spell_bytes_like_openai(
    split_client: httpx.AsyncClient,
) -> None:
    body = {"model": "fake", "prompt": "hi", "logprobs": 2}
    r = await split_client.post("/v1/completions", json=body)
    assert r.status_code == 200, r.text
    assert_openai(r.json(), "CreateCompletionResponse")
    choice = r.json()["choices"][0]
    lp = choice["logprobs"]
    assert choice["text"] == TEXT
    assert b"".join(completion_token_bytes(t) for t in lp["tokens"]) == TEXT.encode()
    assert lp["tokens"][1:3] == ["bytes:\\xc3", "bytes:\\xb9"]
    assert lp["top_logprobs"][1] == {"bytes:\\xc3": -0.25, "bytes:\\xe4": -2.0}
    assert lp["text_offset"] == [2, 3, 3, 4, 5, 6]  # from the start of the prompt "hi"

    r = await split_client.post("/v1/completions", json={**body, "stream": True})
    tokens, offsets, text = [], [], ""
    for chunk in _chunks(r):
        choice = {**chunk["choices"][0]}
        text += choice["text"]
        if choice["logprobs"]:
            tokens += choice["logprobs"]["tokens"]
            offsets += choice["logprobs"]["text_offset"]
        final = [{**choice, "finish_reason": choice["finish_reason"] or "stop"}]
        assert_openai({**chunk, "choices": final}, "CreateCompletionResponse")
    assert text == TEXT
    assert tokens == lp["tokens"] and offsets == lp["text_offset"]
