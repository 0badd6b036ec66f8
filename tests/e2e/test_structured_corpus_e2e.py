"""JSON Schema as SDKs send it: every model of the Pydantic corpus, through the real server,
streamed and not, at budgets that cut the output — the result always validates (formats
checked); what a grammar cannot enforce is a 400 naming the keyword."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jsonschema
import openai
import pytest

from engines.structured.corpus import schemas
from support.servers import RunningServer

pytestmark = pytest.mark.e2e

FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


def _ask(client: openai.OpenAI, model: str, schema: dict, budget: int, stream: bool) -> tuple:
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": "Fill in a realistic example."}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        "max_tokens": budget,
        "temperature": 0.7,
        "seed": 1,
    }
    if not stream:
        reply = client.chat.completions.create(**kwargs)
        return reply.choices[0].message.content, reply.choices[0].finish_reason, reply.usage
    chunks = list(
        client.chat.completions.create(
            stream=True, stream_options={"include_usage": True}, **kwargs
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = next(
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    )
    return text, finish, chunks[-1].usage


def _run(client: openai.OpenAI, model: str, case: tuple[str, dict, int, bool]) -> tuple:
    name, schema, budget, stream = case
    try:
        return name, budget, stream, _ask(client, model, schema, budget, stream)
    except openai.BadRequestError as exc:
        return name, budget, stream, exc


def test_pydantic_corpus_validates_streamed_and_cut(chat_server: RunningServer) -> None:
    client = openai.OpenAI(base_url=chat_server.base_url, api_key="x", max_retries=0, timeout=900)
    corpus = schemas()
    assert len(corpus) >= 40
    cases = [(n, s, 120, False) for n, s in corpus] + [(n, s, 24, True) for n, s in corpus]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda c: _run(client, chat_server.model, c), cases))
    valid, cut, refused = 0, 0, {}
    for (name, budget, stream, got), (_, schema, _, _) in zip(results, cases, strict=True):
        if isinstance(got, openai.BadRequestError):
            body = got.body if isinstance(got.body, dict) else {}
            refused[(name, stream)] = (body.get("param"), body.get("message", ""))
            continue
        text, finish, usage = got
        jsonschema.validate(json.loads(text), schema, format_checker=FORMATS)
        assert usage.completion_tokens <= budget, (name, stream, usage)
        valid += 1
        cut += finish == "length"
    for (name, _stream), (param, message) in refused.items():
        if name == "Frozenset":
            assert param == "response_format.json_schema.schema" and "uniqueItems" in message
        else:  # a budget below the smallest value this schema allows
            assert param == "max_tokens", (name, message)
    assert {n for n, _ in refused} <= {"Frozenset", *[n for n, _ in corpus]}
    assert valid >= 2 * (len(corpus) - 1) - 6  # every supported schema, but a few tiny budgets
    assert cut > 0  # the 24-token budgets really cut outputs, which still validated
    print(f"\n[corpus] {valid} valid outputs ({cut} cut by max_tokens), refused: {sorted(refused)}")
