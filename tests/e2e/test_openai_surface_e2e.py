"""logprobs, ``n``, /v1/models/{id}, /tokenize and /detokenize on the real model, and the
hostile inputs of tests/serving/test_hostile_input.py sent through the real tokenizer and chat
template; the fuzz strategies run briefly against the real model too. Every answer validates
against OpenAI's published schemas."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings

from support.fuzz import ROUTES, check_answer, request_bodies
from support.logprobs import completion_token_bytes
from support.openai_spec import assert_openai
from support.servers import RunningServer

pytestmark = pytest.mark.e2e

CAPITAL = "Q: What is the capital of France?\nA:"


def test_chat_logprobs_from_the_real_logits(chat_server: RunningServer) -> None:
    client = openai.OpenAI(base_url=chat_server.base_url, api_key="unused", max_retries=0)
    r = client.chat.completions.with_raw_response.create(
        model=chat_server.model,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=6,
        temperature=0,
        logprobs=True,
        top_logprobs=3,
    )
    assert_openai(json.loads(r.text), "CreateChatCompletionResponse")
    choice = r.parse().choices[0]
    assert choice.logprobs is not None and choice.logprobs.content
    content = choice.logprobs.content
    assert "".join(t.token for t in content) == choice.message.content
    for token in content:
        assert token.logprob <= 0 and len(token.top_logprobs) == 3
        assert token.top_logprobs[0].logprob == token.logprob  # greedy took the likeliest
        assert sum(math.exp(t.logprob) for t in token.top_logprobs) <= 1 + 1e-6


def test_completion_logprobs_and_n_choices(chat_server: RunningServer) -> None:
    before = _saved(chat_server)
    facts = " ".join(f"Fact {i}: the number {i} comes after {i - 1}." for i in range(1, 40))
    body = {
        "model": chat_server.model,
        "prompt": f"{facts}\n{CAPITAL}",
        "max_tokens": 5,
        "temperature": 0.9,
        "n": 3,
        "logprobs": 2,
    }
    r = httpx.post(f"{chat_server.base_url}/completions", json=body, timeout=120)
    assert r.status_code == 200, r.text
    data = r.json()
    assert_openai(data, "CreateCompletionResponse")
    assert [c["index"] for c in data["choices"]] == [0, 1, 2]
    for choice in data["choices"]:
        lp = choice["logprobs"]
        # A token holding part of a UTF-8 character (a sampled U+00A0 is two byte tokens
        # here) is spelled "bytes:\\xNN", as OpenAI does: the tokens' bytes spell the text.
        joined = b"".join(completion_token_bytes(t) for t in lp["tokens"])
        assert joined.decode(errors="replace") == choice["text"]
        assert len(lp["token_logprobs"]) == len(lp["tokens"]) == len(lp["text_offset"])
        assert all(len(top) <= 2 for top in lp["top_logprobs"])
    usage = data["usage"]
    assert usage["completion_tokens"] >= sum(len(c["logprobs"]["tokens"]) for c in data["choices"])
    # Choices 2 and 3 start once the first has the prompt in the KV cache: they reuse it
    # (at least most of it, whatever granularity prefix reuse works at).
    assert usage["prompt_tokens"] > 300
    assert _saved(chat_server) - before >= usage["prompt_tokens"]


def test_streamed_n_choices_validate(chat_server: RunningServer) -> None:
    body = {
        "model": chat_server.model,
        "messages": [{"role": "user", "content": "Say hi."}],
        "max_tokens": 4,
        "n": 2,
        "stream": True,
        "stream_options": {"include_usage": True},
        "logprobs": True,
    }
    with httpx.stream(
        "POST", f"{chat_server.base_url}/chat/completions", json=body, timeout=120
    ) as r:
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    for chunk in chunks:
        assert_openai(chunk, "CreateChatCompletionStreamResponse")
    finished = {
        c["choices"][0]["index"]
        for c in chunks
        if c["choices"] and c["choices"][0]["finish_reason"]
    }
    assert finished == {0, 1}
    assert chunks[-1]["usage"]["completion_tokens"] >= 2


def test_models_tokenize_detokenize(chat_server: RunningServer) -> None:
    base = chat_server.url
    model = httpx.get(f"{chat_server.base_url}/models/{chat_server.model}", timeout=30)
    assert_openai(model.json(), "Model")
    tok = httpx.post(
        f"{base}/tokenize", json={"model": chat_server.model, "prompt": "Hello, world"}
    )
    assert tok.status_code == 200, tok.text
    tokens = tok.json()["tokens"]
    assert tok.json()["count"] == len(tokens) > 1
    plain = httpx.post(
        f"{base}/tokenize", json={"prompt": "Hello, world", "add_special_tokens": False}
    )
    assert plain.json()["tokens"] == tokens[1:]  # the BOS token is the difference
    back = httpx.post(f"{base}/detokenize", json={"tokens": plain.json()["tokens"]})
    assert back.json() == {"prompt": "Hello, world"}
    chat = httpx.post(f"{base}/tokenize", json={"messages": [{"role": "user", "content": "Hi"}]})
    assert chat.json()["count"] > 2
    bad = httpx.post(f"{base}/detokenize", json={"tokens": [10**9]})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "tokens"


HOSTILE = [
    ({"logit_bias": {"²": 5}}, "logit_bias"),
    ({"logit_bias": {"9" * 5000: 5}}, "logit_bias"),
    ({"messages": [{"role": "user", "content": "hi \ud800"}]}, "messages.0.content"),
    ({"stop": ["\udfff"]}, "stop.0"),
    (
        {
            "messages": [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "[" * 1000 + "]" * 1000},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "done"},
            ]
        },
        "messages.1.tool_calls.0.function.arguments",
    ),
]


@pytest.mark.parametrize(("patch", "param"), HOSTILE, ids=[h[1] for h in HOSTILE])
def test_hostile_input_on_the_real_model(
    chat_server: RunningServer, patch: dict[str, Any], param: str
) -> None:
    body = {
        "model": chat_server.model,
        "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 2,
        **patch,
    }
    r = httpx.post(
        f"{chat_server.base_url}/chat/completions",
        content=json.dumps(body),
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 400, r.text
    assert_openai(r.json(), "ErrorResponse")
    assert r.json()["error"]["param"] == param


FUZZ_EXAMPLES = 40
"""Requests per route against the real model (five routes: 200 in all)."""


@pytest.mark.parametrize("path", [r.path for r in ROUTES("m")])
def test_fuzz_against_the_real_model(chat_server: RunningServer, path: str) -> None:
    route = next(r for r in ROUTES(chat_server.model) if r.path == path)

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=request_bodies(route))
    def one(body: bytes) -> None:
        body = _short(body)
        r = httpx.post(
            chat_server.url + path,
            content=body,
            headers={"content-type": "application/json"},
            timeout=120,
        )
        check_answer(route, r.status_code, r.headers.get("content-type", ""), r.content)

    one()
    ok = httpx.post(
        f"{chat_server.base_url}/completions",
        json={"model": chat_server.model, "prompt": "Hi", "max_tokens": 2},
        timeout=60,
    )
    assert ok.status_code == 200


def _short(body: bytes) -> bytes:
    """Keep generations short on the real model: at most 3 tokens, at most 2 choices."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return body
    if not isinstance(data, dict):
        return body
    for key in ("max_tokens", "max_completion_tokens"):
        if not isinstance(data.get(key), int) or data[key] > 3:
            data[key] = 3
    if isinstance(data.get("n"), int) and data["n"] > 2:
        data["n"] = 2
    return json.dumps(data).encode()


def _saved(server: RunningServer) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    match = re.search(r"^inferstack_prefill_tokens_saved_total\S* ([0-9.e+-]+)$", text, re.M)
    assert match
    return float(match.group(1))
