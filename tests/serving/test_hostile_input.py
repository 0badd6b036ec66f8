"""The client inputs that used to be 500s are 400s naming their ``param``, and the server keeps
serving (in memory; tests/e2e/test_fuzz_e2e.py sends them to the real model too)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from inferstack.serving.settings import ServerSettings
from support.openai_spec import assert_openai

CHAT: dict[str, Any] = {"model": "fake", "messages": [{"role": "user", "content": "one two"}]}


@pytest.fixture
def settings() -> ServerSettings:
    return ServerSettings(max_body_bytes=1 << 20)


def _deep_arguments(depth: int) -> str:
    return "[" * depth + "]" * depth


def _call_history(arguments: str) -> list[dict[str, Any]]:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    return [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ]


HOSTILE: list[tuple[str, str, dict[str, Any], str | None]] = [
    (
        "logit_bias unicode digit",
        "/v1/chat/completions",
        {**CHAT, "logit_bias": {"²": 5}},
        "logit_bias",
    ),
    (
        "logit_bias arabic digit",
        "/v1/completions",
        {"model": "fake", "prompt": "a", "logit_bias": {"٣": 1}},
        "logit_bias",
    ),
    (
        "logit_bias 5000 digits",
        "/v1/chat/completions",
        {**CHAT, "logit_bias": {"9" * 5000: 1}},
        "logit_bias",
    ),
    (
        "lone surrogate in a message",
        "/v1/chat/completions",
        {**CHAT, "messages": [{"role": "user", "content": "a\ud800"}]},
        "messages.0.content",
    ),
    (
        "lone surrogate in a part",
        "/v1/chat/completions",
        {**CHAT, "messages": [{"role": "user", "content": [{"type": "text", "text": "\udfff"}]}]},
        "messages.0.content.0.text",
    ),
    (
        "lone surrogate in a prompt",
        "/v1/completions",
        {"model": "fake", "prompt": "x\udc00y"},
        "prompt",
    ),
    (
        "lone surrogate in a stop string",
        "/v1/chat/completions",
        {**CHAT, "stop": ["ok", "\ud83d"]},
        "stop.1",
    ),
    (
        "lone surrogate in a field name",
        "/v1/chat/completions",
        {**CHAT, "metadata": {"\ud800": 1}},
        "metadata",
    ),
    ("lone surrogate to tokenize", "/tokenize", {"prompt": "\ud800"}, "prompt"),
    (
        "tool arguments 1000 deep",
        "/v1/chat/completions",
        {**CHAT, "messages": _call_history(_deep_arguments(1000))},
        "messages.1.tool_calls.0.function.arguments",
    ),
    ("body 5000 deep", "/v1/chat/completions", {**CHAT, "metadata": None}, None),
    ("number of 5000 digits", "/v1/chat/completions", {**CHAT, "seed": None}, None),
]


def _encode(name: str, body: dict[str, Any]) -> bytes:
    text = json.dumps(body)  # ensure_ascii: a lone surrogate travels as the escape \\ud800
    if name == "body 5000 deep":
        text = text.replace('"metadata": null', '"metadata": ' + "[" * 5000 + "]" * 5000)
    if name == "number of 5000 digits":
        text = text.replace('"seed": null', '"seed": 1' + "0" * 5000)
    return text.encode()


@pytest.mark.parametrize(("name", "path", "body", "param"), HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_hostile_input_is_a_400_naming_its_param(
    client: httpx.AsyncClient, name: str, path: str, body: dict[str, Any], param: str | None
) -> None:
    r = await client.post(
        path, content=_encode(name, body), headers={"content-type": "application/json"}
    )
    assert r.status_code == 400, r.text
    assert_openai(r.json(), "ErrorResponse")
    assert r.json()["error"]["param"] == param
    ok = await client.post("/v1/chat/completions", json=CHAT)
    assert ok.status_code == 200
