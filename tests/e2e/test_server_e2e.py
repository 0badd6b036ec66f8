"""The model server with the real default model, driven by the `openai` SDK."""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from support.servers import RunningServer, start_server, stop_server

pytestmark = pytest.mark.e2e

CAPITAL = "Q: What is the capital of France?\nA:"


@pytest.fixture(scope="module")
def client(chat_server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=chat_server.base_url, api_key="unused", max_retries=0)


def metric(server: RunningServer, name: str) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    match = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


def test_chat_completion(client: openai.OpenAI, chat_server: RunningServer) -> None:
    r = client.chat.completions.create(
        model=chat_server.model,
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        max_tokens=24,
        temperature=0,
    )
    choice = r.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert r.usage is not None and r.usage.prompt_tokens > 5
    assert 0 < r.usage.completion_tokens <= 24


def test_streaming_with_usage_chunk(client: openai.OpenAI, chat_server: RunningServer) -> None:
    stream = client.chat.completions.create(
        model=chat_server.model,
        messages=[{"role": "user", "content": "Name three colours."}],
        max_tokens=16,
        temperature=0,
        seed=3,  # seeded: prefilled from scratch, so both runs compute the same
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes in (["stop"], ["length"])
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens <= 16
    solo = client.chat.completions.create(
        model=chat_server.model,
        messages=[{"role": "user", "content": "Name three colours."}],
        max_tokens=16,
        temperature=0,
        seed=3,  # seeded: prefilled from scratch, so both runs compute the same
    )
    assert text == solo.choices[0].message.content


def test_completion_knows_paris(client: openai.OpenAI, chat_server: RunningServer) -> None:
    r = client.completions.create(
        model=chat_server.model, prompt=CAPITAL, max_tokens=12, temperature=0
    )
    assert "Paris" in r.choices[0].text


def test_stop_strings(client: openai.OpenAI, chat_server: RunningServer) -> None:
    prompt = "1, 2, 3, 4, 5,"
    free = client.completions.create(
        model=chat_server.model, prompt=prompt, max_tokens=16, temperature=0
    ).choices[0]
    assert " 7" in free.text  # the model counts on...
    stopped = client.completions.create(
        model=chat_server.model, prompt=prompt, max_tokens=16, temperature=0, stop=[" 7"]
    ).choices[0]
    assert stopped.finish_reason == "stop"
    assert stopped.text == free.text[: free.text.index(" 7")]  # ...and stops right before 7


def test_max_tokens_gives_length(client: openai.OpenAI, chat_server: RunningServer) -> None:
    r = client.completions.create(
        model=chat_server.model,
        prompt="Once upon a time",
        max_tokens=5,
        temperature=0,
        extra_body={"ignore_eos": True},
    )
    assert r.choices[0].finish_reason == "length"
    assert r.usage is not None and r.usage.completion_tokens == 5


def test_seeded_sampling_is_deterministic(
    client: openai.OpenAI, chat_server: RunningServer
) -> None:
    def once() -> str:
        r = client.completions.create(
            model=chat_server.model,
            prompt="My favourite food is",
            max_tokens=24,
            temperature=0.9,
            seed=1234,
        )
        return r.choices[0].text

    first, second = once(), once()
    assert first == second
    other = (
        client.completions.create(
            model=chat_server.model,
            prompt="My favourite food is",
            max_tokens=24,
            temperature=0.9,
            seed=99,
        )
        .choices[0]
        .text
    )
    assert other != first


WORDS = [
    "apple",
    "river",
    "castle",
    "guitar",
    "planet",
    "tiger",
    "copper",
    "violin",
    "desert",
    "rocket",
    "garden",
    "pencil",
    "island",
    "silver",
    "dragon",
    "window",
]


def test_sixteen_concurrent_streams_have_no_cross_talk(
    chat_server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """16 unrelated prompts at temperature 0, alone and all at once: each concurrent output
    carries its own prompt's word and no other's; exact-match share is reported, not required
    (batched kernels round differently)."""
    prompts = [" ".join([w] * 8) for w in WORDS]

    async def run(prompt: str, client: openai.AsyncOpenAI) -> str:
        r = await client.completions.create(
            model=chat_server.model, prompt=prompt, max_tokens=24, temperature=0
        )
        return r.choices[0].text

    async def main() -> tuple[list[str], list[str]]:
        async with openai.AsyncOpenAI(base_url=chat_server.base_url, api_key="x") as client:
            solo = [await run(p, client) for p in prompts]
            together = await asyncio.gather(*(run(p, client) for p in prompts))
        return solo, list(together)

    solo, together = asyncio.run(main())
    exact = 0
    for word, alone, batched in zip(WORDS, solo, together, strict=True):
        found = set(re.findall(r"[a-z]+", batched.lower())) & set(WORDS)
        assert word in batched.lower(), (word, batched)
        assert found == {word}, (word, batched)
        exact += alone == batched
        prefix = next(
            (i for i, (a, b) in enumerate(zip(alone, batched, strict=False)) if a != b),
            min(len(alone), len(batched)),
        )
        assert prefix >= len(word), (word, alone, batched)
    with capsys.disabled():
        print(f"\n[concurrency] {exact}/16 concurrent outputs identical to their solo run")


def test_prefix_reuse_skips_a_shared_system_prompt(
    client: openai.OpenAI, chat_server: RunningServer
) -> None:
    system = " ".join(f"Rule {i}: be precise about topic number {i}." for i in range(50))
    usages = []
    for question in ("What is rule 3?", "What is rule 7?"):
        r = client.chat.completions.create(
            model=chat_server.model,
            max_tokens=4,
            temperature=0,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": question}],
        )
        assert r.usage is not None
        usages.append(r.usage)
    assert usages[0].prompt_tokens > 400
    cached = usages[1].prompt_tokens_details.cached_tokens  # type: ignore[union-attr]
    # Reuse stops at a whole 64-token prefill chunk (reproducible output, docs/architecture.md).
    assert cached >= usages[0].prompt_tokens - 10 - 64
    assert metric(chat_server, "inferstack_prefill_tokens_saved_total") >= cached


def test_disconnected_stream_frees_its_sequence(chat_server: RunningServer) -> None:
    body = {
        "model": chat_server.model,
        "prompt": "Once upon a time",
        "max_tokens": 1500,
        "stream": True,
        "ignore_eos": True,
    }
    with httpx.stream("POST", f"{chat_server.base_url}/completions", json=body, timeout=30) as r:
        lines = r.iter_lines()
        got = [next(lines) for _ in range(6)]
        assert any(line.startswith("data: ") for line in got)
        assert metric(chat_server, "inferstack_running_sequences") >= 1
    deadline = time.monotonic() + 30
    while metric(chat_server, "inferstack_running_sequences") > 0:
        assert time.monotonic() < deadline, "the sequence was not freed after the disconnect"
        time.sleep(0.1)


def test_embeddings_through_the_sdk(embedding_server: RunningServer) -> None:
    client = openai.OpenAI(base_url=embedding_server.base_url, api_key="unused")
    texts = [
        "The cat sits on the mat.",
        "A cat is sitting on a rug.",
        "Quarterly revenue grew by ten percent.",
    ]
    r = client.embeddings.create(model=embedding_server.model, input=texts)  # base64 on the wire
    vectors = [d.embedding for d in r.data]
    assert len(vectors) == 3 and all(len(v) == 384 for v in vectors)

    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
            sum(x * x for x in a) * sum(y * y for y in b)
        )

    assert cos(vectors[0], vectors[1]) > cos(vectors[0], vectors[2]) + 0.2
    floats = (
        client.embeddings.create(
            model=embedding_server.model, input=texts[0], encoding_format="float"
        )
        .data[0]
        .embedding
    )
    assert cos(floats, vectors[0]) > 0.9999
    assert r.usage.prompt_tokens > 10


BAD_INPUTS = [
    ("malformed json", b'{"model": ', 400, None),
    ("wrong type", {"messages": "hi"}, 400, "messages"),
    ("empty messages", {"messages": []}, 400, "messages"),
    ("unknown model", {"model": "no-such-model"}, 404, "model"),
    ("max_tokens zero", {"max_tokens": 0}, 400, "max_tokens"),
    ("max_tokens negative", {"max_tokens": -3}, 400, "max_tokens"),
    ("bad temperature", {"temperature": 7}, 400, "temperature"),
    (
        "prompt longer than context",
        {"messages": [{"role": "user", "content": "word " * 3000}]},
        400,
        "messages",
    ),
    ("output beyond context", {"max_tokens": 5000}, 400, "max_tokens"),
    (
        "oversized body",
        {"messages": [{"role": "user", "content": "x" * (9 * 1024 * 1024)}]},
        413,
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "patch", "status", "param"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_gets_a_4xx_and_the_server_keeps_serving(
    chat_server: RunningServer, name: str, patch: object, status: int, param: str | None
) -> None:
    url = f"{chat_server.base_url}/chat/completions"
    if isinstance(patch, bytes):
        r = httpx.post(url, content=patch, headers={"content-type": "application/json"})
    else:
        assert isinstance(patch, dict)
        body = {
            "model": chat_server.model,
            "messages": [{"role": "user", "content": "Hello"}],
            "max_tokens": 4,
            **patch,
        }
        r = httpx.post(
            url, content=json.dumps(body), headers={"content-type": "application/json"}, timeout=60
        )
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["param"] == param and error["message"] and error["type"]
    ok = httpx.post(
        url,
        json={
            "model": chat_server.model,
            "max_tokens": 2,
            "messages": [{"role": "user", "content": "Hi"}],
        },
        timeout=60,
    )
    assert ok.status_code == 200


@pytest.fixture(scope="module")
def tiny_server() -> Iterator[RunningServer]:
    """One slot and no waiting room, to see admission control refuse work."""
    server = start_server(
        "--model",
        "default",
        "--parallel",
        "1",
        "--max-waiting",
        "0",
        "--ctx-size",
        "1024",
        "--threads",
        "1",
    )
    yield server
    stop_server(server)


def test_full_queue_answers_429_with_retry_after(tiny_server: RunningServer) -> None:
    body = {
        "model": tiny_server.model,
        "prompt": "Once upon a time",
        "max_tokens": 800,
        "stream": True,
        "ignore_eos": True,
    }
    with httpx.stream("POST", f"{tiny_server.base_url}/completions", json=body, timeout=30) as r:
        lines = r.iter_lines()  # keep the iterator: dropping it closes the connection
        assert next(lines).startswith("data: ")
        refused = httpx.post(
            f"{tiny_server.base_url}/completions",
            json={**body, "stream": False, "max_tokens": 2},
            timeout=30,
        )
        assert refused.status_code == 429
        assert refused.headers["retry-after"].isdigit()
        assert refused.json()["error"]["type"] == "rate_limit_error"
    deadline = time.monotonic() + 30
    while True:  # once the stream is gone the slot serves again
        ok = httpx.post(
            f"{tiny_server.base_url}/completions",
            json={**body, "stream": False, "max_tokens": 2},
            timeout=30,
        )
        if ok.status_code == 200:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.fixture(scope="module")
def solo_server() -> Iterator[RunningServer]:
    """A one-slot server of this module's own, for tests that must not change the shared
    server's cache."""
    server = start_server("--model", "default", "--parallel", "1", "--ctx-size", "1024")
    yield server
    stop_server(server)


def test_ignore_eos_also_ignores_the_fallback_end_of_turn(solo_server: RunningServer) -> None:
    """The transcript fallback ends a turn at its implied ``"\\nQ:"``, as a chat template ends it
    with an end-of-generation token; ``ignore_eos`` lifts both, so answers run to max_tokens."""
    # NOTE: on a server of its own: long answers left in the shared server's KV cache moved
    # where later seeded requests' cells go, and a near tie then flipped their samples.
    client = openai.OpenAI(base_url=solo_server.base_url, api_key="unused", max_retries=0)
    ask = {"model": solo_server.model, "max_tokens": 48, "temperature": 0}
    messages: list[Any] = [{"role": "user", "content": "What is the capital of France?"}]
    turn = client.chat.completions.create(messages=messages, **ask)
    assert turn.choices[0].finish_reason == "stop"
    assert turn.usage is not None and turn.usage.completion_tokens < 48
    full = client.chat.completions.create(messages=messages, extra_body={"ignore_eos": True}, **ask)
    assert full.choices[0].finish_reason == "length"
    assert full.usage is not None and full.usage.completion_tokens == 48
    text = full.choices[0].message.content or ""
    assert text.startswith(turn.choices[0].message.content or "")


def test_default_settings_answer_the_readme_greeting_in_one_turn(
    solo_server: RunningServer,
) -> None:
    """The README's first request sets only the model and one message: the base model, read
    through the transcript fallback with its generation defaults (greedy, a 256-token budget),
    greets back in one short turn that leaves no transcript marker behind, and a simple
    question gets its answer."""
    client = openai.OpenAI(base_url=solo_server.base_url, api_key="unused", max_retries=0)

    def ask(content: str) -> tuple[str, str | None, int]:
        r = client.chat.completions.create(
            model=solo_server.model, messages=[{"role": "user", "content": content}]
        )
        assert r.usage is not None
        return (
            r.choices[0].message.content or "",
            r.choices[0].finish_reason,
            r.usage.completion_tokens,
        )

    text, finish, tokens = ask("Hello!")
    assert finish == "stop" and 0 < tokens < 32
    assert text.strip() and "\n" not in text.strip()
    assert "Q:" not in text and "A:" not in text
    assert re.search(r"\b(hello|hi)\b", text, re.I), text  # a greeting back, not a question
    answer, finish, _ = ask("What is the capital of France?")
    assert finish == "stop" and "Paris" in answer
