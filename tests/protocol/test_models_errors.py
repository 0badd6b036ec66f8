"""Model listing, the error body, and how validation errors name their OpenAI ``param``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types import Model as SDKModel
from pydantic import ValidationError

from inferstack.protocol import (
    ChatCompletionRequest,
    ErrorBody,
    ErrorResponse,
    Model,
    ModelList,
    validation_error_param,
)


def test_model_list() -> None:
    listing = ModelList(data=[Model(id="gemma-3-270m", created=1)])
    body = json.loads(listing.model_dump_json())
    assert body == {
        "object": "list",
        "data": [{"id": "gemma-3-270m", "object": "model", "created": 1, "owned_by": "inferstack"}],
    }
    assert SDKModel.model_validate(body["data"][0]).id == "gemma-3-270m"


def test_error_body_keeps_null_param_and_code() -> None:
    error = ErrorResponse(error=ErrorBody(message="boom", type="server_error"))
    assert json.loads(error.model_dump_json()) == {
        "error": {"message": "boom", "type": "server_error", "param": None, "code": None}
    }


def _user(content: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}]


CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"messages": _user("x")}, "model", "Field required"),
    ({"model": "m"}, "messages", "Field required"),
    ({"model": "m", "messages": []}, "messages", "at least 1"),
    ({"model": "m", "messages": "hi"}, "messages", "valid list"),
    ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages.0", "'role'"),
    ({"model": "m", "messages": [{"content": "x"}]}, "messages.0", "'role'"),
    ({"model": "m", "messages": _user(5)}, "messages.0.content", "valid string"),
    ({"model": "m", "messages": [{"role": "user"}]}, "messages.0.content", "Field required"),
    (
        {"model": "m", "messages": _user([{"type": "text"}])},
        "messages.0.content.0.text",
        "Field required",
    ),
    (
        {"model": "m", "messages": _user([{"type": "image_url", "image_url": {"detail": "low"}}])},
        "messages.0.content.0.image_url.url",
        "Field required",
    ),
    (
        {"model": "m", "messages": _user([{"type": "video"}])},
        "messages.0.content.0",
        "'type' must be one of",
    ),
    (
        {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
        "messages.0.tool_call_id",
        "Field required",
    ),
    (
        {"model": "m", "messages": [{"role": "function", "content": "x"}]},
        "messages.0.name",
        "Field required",
    ),
    (
        {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "c"}]}]},
        "messages.0.tool_calls.0.function",
        "Field required",
    ),
    ({"model": "m", "messages": _user("x"), "max_tokens": 0}, "max_tokens", "greater than"),
    (
        {"model": "m", "messages": _user("x"), "max_completion_tokens": 0},
        "max_completion_tokens",
        "greater than",
    ),
    ({"model": "m", "messages": _user("x"), "temperature": 2.5}, "temperature", "less than"),
    ({"model": "m", "messages": _user("x"), "temperature": -1}, "temperature", "greater than"),
    ({"model": "m", "messages": _user("x"), "top_p": 0}, "top_p", "greater than"),
    ({"model": "m", "messages": _user("x"), "top_p": 1.5}, "top_p", "less than"),
    ({"model": "m", "messages": _user("x"), "presence_penalty": 3}, "presence_penalty", "less"),
    ({"model": "m", "messages": _user("x"), "frequency_penalty": -3}, "frequency_penalty", "great"),
    ({"model": "m", "messages": _user("x"), "top_logprobs": 21}, "top_logprobs", "less than"),
    ({"model": "m", "messages": _user("x"), "n": 0}, "n", "greater than or equal to 1"),
    (
        {"model": "m", "messages": _user("x"), "top_logprobs": 2},
        "top_logprobs",
        "requires logprobs",
    ),
    ({"model": "m", "messages": _user("x"), "logit_bias": {"²": 1}}, "logit_bias", "token ids"),
    ({"model": "m", "messages": _user("x"), "logit_bias": {"9" * 5000: 1}}, "logit_bias", "token"),
    ({"model": "m", "messages": _user("x"), "stop": ["a"] * 5}, "stop", "at most 4"),
    ({"model": "m", "messages": _user("x"), "logit_bias": {"7": 150}}, "logit_bias.7", "less"),
    ({"model": "m", "messages": _user("x"), "logit_bias": {"a": 1}}, "logit_bias", "token ids"),
    ({"model": "m", "messages": _user("x"), "min_p": 2}, "min_p", "less than"),
    ({"model": "m", "messages": _user("x"), "top_k": -2}, "top_k", "greater than"),
    (
        {"model": "m", "messages": _user("x"), "response_format": {"type": "xml"}},
        "response_format",
        "'type' must be one of",
    ),
    (
        {"model": "m", "messages": _user("x"), "response_format": {"type": "json_schema"}},
        "response_format.json_schema",
        "Field required",
    ),
    (
        {"model": "m", "messages": _user("x"), "tools": [{"type": "function", "function": {}}]},
        "tools.0.function.name",
        "Field required",
    ),
    (
        {"model": "m", "messages": _user("x"), "tool_choice": "required"},
        "tool_choice",
        "only allowed when tools",
    ),
    (
        {"model": "m", "messages": _user("x"), "tool_choice": "sometimes"},
        "tool_choice",
        "Input should be",
    ),
    (
        {"model": "m", "messages": _user("x"), "stream_options": {"include_usage": "maybe"}},
        "stream_options.include_usage",
        "valid boolean",
    ),
]


@pytest.mark.parametrize(("body", "param", "needle"), CASES, ids=[c[1] for c in CASES])
def test_validation_errors_name_their_param(body: dict[str, Any], param: str, needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        ChatCompletionRequest.model_validate(body)
    message, got_param = validation_error_param(info.value)
    assert got_param == param
    assert needle in message
    assert message.startswith(f"{param}: ")
    assert "Value error" not in message


def test_named_tool_choice_error_points_inside_it() -> None:
    body = {
        "model": "m",
        "messages": _user("x"),
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": {"type": "function", "function": {}},
    }
    with pytest.raises(ValidationError) as info:
        ChatCompletionRequest.model_validate(body)
    assert validation_error_param(info.value)[1] == "tool_choice.function.name"


def test_invalid_json_has_no_param() -> None:
    with pytest.raises(ValidationError) as info:
        ChatCompletionRequest.model_validate_json("{not json")
    message, param = validation_error_param(info.value)
    assert param is None
    assert "JSON" in message
