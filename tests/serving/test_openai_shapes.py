"""Every response of the model server validates against OpenAI's published schemas
(tests/support/openai_schemas.json), choices, logprobs and streamed chunks included."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from inferstack.protocol import iter_sse_data
from support.openai_spec import assert_openai

CHAT = {"model": "fake", "messages": [{"role": "user", "content": "one two three"}]}
PROMPT = {"model": "fake", "prompt": "one two three"}


def events(r: httpx.Response) -> list[Any]:
    data = list(iter_sse_data(r.text.splitlines()))
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


@pytest.mark.parametrize(
    "extra",
    [{}, {"n": 3}, {"logprobs": True, "top_logprobs": 2}, {"n": 2, "logprobs": True}],
    ids=["plain", "n3", "logprobs", "n2-logprobs"],
)
async def test_chat_responses_and_chunks(client: httpx.AsyncClient, extra: dict[str, Any]) -> None:
    r = await client.post("/v1/chat/completions", json={**CHAT, **extra})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_openai(body, "CreateChatCompletionResponse")
    n = extra.get("n", 1)
    assert [c["index"] for c in body["choices"]] == list(range(n))
    assert body["usage"]["completion_tokens"] == 3 * n
    if extra.get("logprobs"):
        content = body["choices"][0]["logprobs"]["content"]
        assert [t["token"] for t in content] == ["one ", "two ", "three "]
        assert all(len(t["top_logprobs"]) == extra.get("top_logprobs", 0) for t in content)
    stream = {**CHAT, **extra, "stream": True, "stream_options": {"include_usage": True}}
    r = await client.post("/v1/chat/completions", json=stream)
    chunks = events(r)
    for chunk in chunks:
        assert_openai(chunk, "CreateChatCompletionStreamResponse")
    assert chunks[-1]["usage"]["completion_tokens"] == 3 * n
    finished = {
        c["choices"][0]["index"]
        for c in chunks
        if c["choices"] and c["choices"][0]["finish_reason"]
    }
    assert finished == set(range(n))
    if extra.get("logprobs"):
        tokens = [
            t["token"]
            for c in chunks
            if c["choices"] and c["choices"][0]["index"] == 0 and c["choices"][0]["logprobs"]
            for t in c["choices"][0]["logprobs"]["content"]
        ]
        assert tokens == ["one ", "two ", "three "]


@pytest.mark.parametrize("extra", [{}, {"n": 2}, {"logprobs": 2}], ids=["plain", "n2", "logprobs"])
async def test_completion_responses_and_chunks(
    client: httpx.AsyncClient, extra: dict[str, Any]
) -> None:
    r = await client.post("/v1/completions", json={**PROMPT, **extra})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_openai(body, "CreateCompletionResponse")
    if "logprobs" in extra:
        lp = body["choices"][0]["logprobs"]
        assert lp["tokens"] == ["one ", "two ", "three "]
        assert lp["text_offset"] == [13, 17, 21]  # from the start of the 13-character prompt
        assert all(len(top) == 2 for top in lp["top_logprobs"])
    r = await client.post("/v1/completions", json={**PROMPT, **extra, "stream": True})
    chunks = events(r)
    for chunk in chunks:
        # The spec has no chunk schema for text completions: OpenAI streams them as
        # CreateCompletionResponse objects whose finish_reason is null until the last one.
        final = [{**c, "finish_reason": c["finish_reason"] or "stop"} for c in chunk["choices"]]
        assert_openai({**chunk, "choices": final}, "CreateCompletionResponse")
    if "logprobs" in extra:
        offsets = [
            o
            for c in chunks
            if c["choices"][0]["logprobs"]
            for o in c["choices"][0]["logprobs"]["text_offset"]
        ]
        assert offsets == [13, 17, 21]  # from the start of the 13-character prompt


async def test_models_embeddings_and_errors(client: httpx.AsyncClient) -> None:
    assert_openai((await client.get("/v1/models")).json(), "ListModelsResponse")
    assert_openai((await client.get("/v1/models/fake")).json(), "Model")
    r = await client.post("/v1/embeddings", json={"model": "fake", "input": ["a", "b"]})
    assert_openai(r.json(), "CreateEmbeddingResponse")
    for bad in (
        client.get("/v1/models/nope"),
        client.post("/v1/chat/completions", json={**CHAT, "n": 99}),
        client.post("/v1/chat/completions", json={**CHAT, "top_logprobs": 3}),
        client.post("/v1/completions", json={**PROMPT, "echo": True, "logprobs": 1}),
        client.get("/nowhere"),
    ):
        r = await bad
        assert 400 <= r.status_code < 500
        assert_openai(r.json(), "ErrorResponse")


async def test_tokenize_and_detokenize(client: httpx.AsyncClient) -> None:
    r = await client.post("/tokenize", json={"model": "fake", "prompt": "hé"})
    assert r.json() == {"count": 3, "max_model_len": 64, "tokens": [1, ord("h"), ord("é")]}
    r = await client.post("/tokenize", json={"prompt": "hé", "add_special_tokens": False})
    assert r.json()["tokens"] == [ord("h"), ord("é")]
    r = await client.post("/tokenize", json={"messages": [{"role": "user", "content": "ab"}]})
    assert r.json()["count"] == 3
    r = await client.post("/detokenize", json={"model": "fake", "tokens": [ord("o"), ord("k")]})
    assert r.json() == {"prompt": "ok"}
    for path, body, param in (
        ("/tokenize", {"prompt": "x", "messages": [{"role": "user", "content": "x"}]}, None),
        ("/tokenize", {"model": "nope", "prompt": "x"}, "model"),
        ("/detokenize", {"tokens": [-1]}, "tokens"),
        ("/detokenize", {"tokens": "abc"}, "tokens"),
    ):
        r = await client.post(path, json=body)
        assert 400 <= r.status_code < 500, r.text
        assert_openai(r.json(), "ErrorResponse")
        assert r.json()["error"]["param"] == param
