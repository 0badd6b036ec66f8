"""Logprobs of tokens that hold part of a UTF-8 character, on the real model: Gemma's
tokenizer has no token for 𠜎 (U+2070E) and writes it as four byte-fallback tokens. Chat
logprobs spell each ``\\xNN`` and carry its true ``bytes``; legacy completions spell it
``bytes:\\xNN`` and put its ``text_offset`` on the character, as OpenAI does. Both validate
against OpenAI's published schemas. A one-slot server of its own keeps these answers out of
the shared server's cache."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.logprobs import completion_token_bytes
from support.openai_spec import assert_openai
from support.servers import RunningServer, start_server, stop_server

pytestmark = pytest.mark.e2e

RARE = "𠜎"  # four bytes, no token of its own: the model copies it byte by byte
PROMPT = f"Rare: {RARE * 4}"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    server = start_server(
        "--model", "default", "--parallel", "1", "--ctx-size", "512", "--threads", "2"
    )
    yield server
    stop_server(server)


def _check_completion_logprobs(text: str, lp: dict[str, Any]) -> None:
    tokens = lp["tokens"]
    assert sum(t.startswith("bytes:\\x") for t in tokens) >= 4, tokens  # one whole 𠜎 at least
    assert "\ufffd" not in "".join(tokens)
    assert b"".join(completion_token_bytes(t) for t in tokens).decode() == text
    assert lp["text_offset"][0] == len(PROMPT)  # counted from the prompt's start, as OpenAI
    text = PROMPT + text
    for token, offset in zip(tokens, lp["text_offset"], strict=True):
        first = completion_token_bytes(token)[:1]
        if first and first[0] & 0xC0 != 0x80:  # a token that starts a character starts there
            assert text[offset:].encode().startswith(first), (token, offset)
        else:  # a continuation sits on the character it continues
            assert text[offset] == RARE, (token, offset)
    for top in lp["top_logprobs"]:
        assert all("\ufffd" not in key for key in top), top


def test_completion_logprobs_spell_byte_tokens_like_openai(server: RunningServer) -> None:
    body = {
        "model": server.model,
        "prompt": PROMPT,
        "max_tokens": 8,  # two whole characters
        "temperature": 0,
        "logprobs": 2,
    }
    r = httpx.post(f"{server.base_url}/completions", json=body, timeout=120)
    assert r.status_code == 200, r.text
    assert_openai(r.json(), "CreateCompletionResponse")
    choice = r.json()["choices"][0]
    assert RARE in choice["text"]
    _check_completion_logprobs(choice["text"], choice["logprobs"])

    with httpx.stream(
        "POST", f"{server.base_url}/completions", json={**body, "stream": True}, timeout=120
    ) as s:
        data = [line.removeprefix("data: ") for line in s.iter_lines() if line.startswith("data:")]
    assert data[-1] == "[DONE]"
    text, merged = "", {"tokens": [], "top_logprobs": [], "text_offset": []}
    for chunk in map(json.loads, data[:-1]):
        c = chunk["choices"][0]
        # No chunk schema for text completions: OpenAI streams CreateCompletionResponse objects.
        final = [{**c, "finish_reason": c["finish_reason"] or "stop"}]
        assert_openai({**chunk, "choices": final}, "CreateCompletionResponse")
        text += c["text"]
        for key in merged:
            merged[key] += (c["logprobs"] or {}).get(key, [])
    assert text == choice["text"]
    assert merged["tokens"] == choice["logprobs"]["tokens"]
    assert merged["text_offset"] == choice["logprobs"]["text_offset"]


def test_chat_logprobs_carry_the_true_bytes(server: RunningServer) -> None:
    body = {
        "model": server.model,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 9,  # a space and two whole characters
        "temperature": 0,
        "logprobs": True,
        "top_logprobs": 2,
    }
    r = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=120)
    assert r.status_code == 200, r.text
    assert_openai(r.json(), "CreateChatCompletionResponse")
    choice = r.json()["choices"][0]
    content = choice["logprobs"]["content"]
    assert RARE in choice["message"]["content"]
    assert bytes(b for t in content for b in t["bytes"]).decode() == choice["message"]["content"]
    partial = [t for t in content if t["bytes"] and t["bytes"][0] >= 0x80]
    assert len(partial) >= 4
    for t in partial:  # a byte token: spelled by its byte, which `bytes` carries
        assert t["token"] == "".join(f"\\x{b:02x}" for b in t["bytes"]), t
    for t in content:
        for alt in t["top_logprobs"]:
            assert "\ufffd" not in alt["token"] and alt["bytes"], alt
