"""ChatCompletionRequest: every message and request shape round-trips; sampling options."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest

from inferstack.protocol import (
    AssistantMessage,
    ChatCompletionRequest,
    FunctionMessage,
    ImageURLPart,
    ResponseFormatJSONSchema,
    TextPart,
    ToolChoiceFunction,
    ToolMessage,
    UserMessage,
    message_text,
)


def _request(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}


def _round_trip(body: dict[str, Any]) -> ChatCompletionRequest:
    request = ChatCompletionRequest.model_validate(body)
    assert request.model_dump(exclude_unset=True) == body
    again = ChatCompletionRequest.model_validate_json(request.model_dump_json(exclude_unset=True))
    assert again == request
    return request


def test_multimodal_user_message_round_trips() -> None:
    content = [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    request = _round_trip({"model": "m", "messages": [{"role": "user", "content": content}]})
    message = request.messages[0]
    assert isinstance(message, UserMessage)
    assert isinstance(message.content, list)
    assert isinstance(message.content[0], TextPart)
    assert isinstance(message.content[1], ImageURLPart)
    assert message.content[1].image_url.detail == "low"
    assert message_text(message.content) == "What is in this image?"


def test_every_role_round_trips() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
        {"role": "user", "content": "Weather in Paris?", "name": "ann"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
        {"role": "assistant", "content": "21 degrees.", "refusal": None},
        {"role": "function", "name": "get_weather", "content": '{"temp": 21}'},
    ]
    request = _round_trip({"model": "m", "messages": messages})
    kinds = [type(m).__name__ for m in request.messages]
    assert kinds == [
        "SystemMessage",
        "DeveloperMessage",
        "UserMessage",
        "AssistantMessage",
        "ToolMessage",
        "AssistantMessage",
        "FunctionMessage",
    ]
    assistant = request.messages[3]
    assert isinstance(assistant, AssistantMessage)
    assert assistant.content is None
    assert assistant.tool_calls is not None
    assert assistant.tool_calls[0].function.arguments == '{"city": "Paris"}'
    assert isinstance(request.messages[4], ToolMessage)
    assert isinstance(request.messages[6], FunctionMessage)


def test_message_dicts_drop_nulls_for_templates() -> None:
    request = ChatCompletionRequest.model_validate(
        _request(messages=[{"role": "assistant", "content": None, "tool_calls": []}])
    )
    assert request.message_dicts() == [{"role": "assistant", "tool_calls": []}]


def test_tools_and_tool_choice_round_trip() -> None:
    tools: list[dict[str, Any]] = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                "strict": True,
            },
        }
    ]
    for choice in ["none", "auto", "required"]:
        _round_trip(_request(tools=tools, tool_choice=choice, parallel_tool_calls=False))
    named = {"type": "function", "function": {"name": "get_weather"}}
    request = _round_trip(_request(tools=tools, tool_choice=named))
    assert isinstance(request.tool_choice, ToolChoiceFunction)
    assert request.tools is not None
    assert request.tools[0].function.parameters == tools[0]["function"]["parameters"]


def test_legacy_functions_round_trip() -> None:
    functions = [{"name": "lookup", "parameters": {"type": "object"}}]
    _round_trip(_request(functions=functions, function_call="auto"))
    request = _round_trip(_request(functions=functions, function_call={"name": "lookup"}))
    assert request.functions is not None
    assert request.functions[0].name == "lookup"


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "text"},
        {"type": "json_object"},
        {
            "type": "json_schema",
            "json_schema": {
                "name": "person",
                "description": "A person",
                "schema": {"type": "object", "properties": {"age": {"type": "integer"}}},
                "strict": True,
            },
        },
    ],
)
def test_response_formats_round_trip(response_format: dict[str, Any]) -> None:
    request = _round_trip(_request(response_format=response_format))
    if isinstance(request.response_format, ResponseFormatJSONSchema):
        assert (
            request.response_format.json_schema.schema_ == response_format["json_schema"]["schema"]
        )


def test_stream_options_and_other_fields_round_trip() -> None:
    request = _round_trip(
        _request(
            stream=True,
            stream_options={"include_usage": True},
            logprobs=True,
            top_logprobs=3,
            user="u-1",
            n=1,
            seed=7,
        )
    )
    assert request.stream_options is not None
    assert request.stream_options.include_usage is True


def test_unknown_fields_are_accepted_kept_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    body = _request(store=True, metadata={"k": "v"})
    body["messages"][0]["audio_hint"] = 1
    with caplog.at_level(logging.DEBUG, logger="inferstack.protocol"):
        request = _round_trip(body)
    assert request.model_extra == {"store": True, "metadata": {"k": "v"}}
    logged = caplog.text
    assert "metadata" in logged
    assert "store" in logged
    assert "audio_hint" in logged


def test_effective_max_tokens_prefers_max_completion_tokens() -> None:
    assert ChatCompletionRequest.model_validate(_request()).effective_max_tokens is None
    assert ChatCompletionRequest.model_validate(_request(max_tokens=5)).effective_max_tokens == 5
    both = ChatCompletionRequest.model_validate(_request(max_tokens=5, max_completion_tokens=9))
    assert both.effective_max_tokens == 9
    assert both.sampling_options()["max_tokens"] == 9


def test_sampling_options_defaults() -> None:
    options = ChatCompletionRequest.model_validate(_request()).sampling_options()
    assert options == {
        "max_tokens": None,
        "temperature": 1.0,
        "top_p": 1.0,
        "top_k": 0,
        "min_p": 0.0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "repetition_penalty": 1.0,
        "seed": None,
        "logit_bias": {},
        "stop": [],
        "ignore_eos": False,
        "logprobs": None,
    }


def test_sampling_options_carry_every_value() -> None:
    request = ChatCompletionRequest.model_validate(
        _request(
            max_tokens=32,
            temperature=0,
            top_p=0.9,
            top_k=40,
            min_p=0.05,
            presence_penalty=0.5,
            frequency_penalty=-0.5,
            repetition_penalty=1.1,
            seed=42,
            logit_bias={"50256": -100, "13": 5},
            stop="\n",
            ignore_eos=True,
        )
    )
    assert request.sampling_options() == {
        "max_tokens": 32,
        "temperature": 0.0,
        "top_p": 0.9,
        "top_k": 40,
        "min_p": 0.05,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.5,
        "repetition_penalty": 1.1,
        "seed": 42,
        "logit_bias": {50256: -100.0, 13: 5.0},
        "stop": ["\n"],
        "ignore_eos": True,
        "logprobs": None,
    }


def test_top_k_minus_one_means_disabled() -> None:
    request = ChatCompletionRequest.model_validate(_request(top_k=-1))
    assert request.sampling_options()["top_k"] == 0


def test_sampling_options_build_the_engine_params() -> None:
    # The engine builds SamplingParams(**options): the keys must stay a subset of its fields.
    from inferstack.engines.base import SamplingParams

    options = ChatCompletionRequest.model_validate(_request(stop=["a", "b"])).sampling_options()
    params = SamplingParams(**options)
    assert params.stop == ["a", "b"]
    assert set(options) <= {f.name for f in dataclasses.fields(SamplingParams)}


def test_a_models_defaults_fill_only_what_the_request_omits() -> None:
    defaults = {"temperature": 0.0, "max_tokens": 256}
    omitted = ChatCompletionRequest.model_validate(_request()).sampling_options(defaults)
    assert (omitted["temperature"], omitted["max_tokens"]) == (0.0, 256)
    given = ChatCompletionRequest.model_validate(_request(max_tokens=8, temperature=0.7))
    options = given.sampling_options(defaults)
    assert (options["temperature"], options["max_tokens"]) == (0.7, 8)
