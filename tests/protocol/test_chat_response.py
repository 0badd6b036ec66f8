"""Chat responses and chunks serialize the way OpenAI sends them and the openai SDK parses."""

from __future__ import annotations

import json

from openai.types.chat import ChatCompletion as SDKChatCompletion
from openai.types.chat import ChatCompletionChunk as SDKChatCompletionChunk

from inferstack.protocol import (
    ChatChoice,
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ChatDelta,
    ChatResponseMessage,
    DeltaFunctionCall,
    DeltaToolCall,
    FunctionCall,
    ToolCall,
    Usage,
)


def test_response_with_text() -> None:
    response = ChatCompletionResponse(
        model="m",
        choices=[ChatChoice(message=ChatResponseMessage(content="Paris."), finish_reason="stop")],
        usage=Usage.of(10, 3, cached_tokens=4),
    )
    body = json.loads(response.model_dump_json())
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris.", "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ]
    assert body["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 3,
        "total_tokens": 13,
        "prompt_tokens_details": {"cached_tokens": 4},
    }
    assert "system_fingerprint" not in body
    parsed = SDKChatCompletion.model_validate(body)
    assert parsed.choices[0].message.content == "Paris."
    assert parsed.usage is not None
    assert parsed.usage.prompt_tokens_details is not None
    assert parsed.usage.prompt_tokens_details.cached_tokens == 4


def test_response_with_tool_calls_keeps_null_content() -> None:
    call = ToolCall(id="call_1", function=FunctionCall(name="f", arguments='{"x": 1}'))
    message = ChatResponseMessage(content=None, tool_calls=[call])
    response = ChatCompletionResponse(
        model="m", choices=[ChatChoice(message=message, finish_reason="tool_calls")]
    )
    body = json.loads(response.model_dump_json())
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
        ],
    }
    parsed = SDKChatCompletion.model_validate(body)
    tool_calls = parsed.choices[0].message.tool_calls
    assert tool_calls is not None
    assert tool_calls[0].id == "call_1"


def test_chunk_keeps_null_finish_reason_and_omits_null_delta_fields() -> None:
    chunk = ChatCompletionChunk(
        id="chatcmpl-1", model="m", choices=[ChatChunkChoice(delta=ChatDelta(content="Hel"))]
    )
    body = json.loads(chunk.model_dump_json())
    assert body["object"] == "chat.completion.chunk"
    assert body["choices"] == [
        {"index": 0, "delta": {"content": "Hel"}, "finish_reason": None, "logprobs": None}
    ]
    assert body["usage"] is None
    parsed = SDKChatCompletionChunk.model_validate(body)
    assert parsed.choices[0].delta.content == "Hel"
    assert parsed.choices[0].finish_reason is None


def test_tool_call_delta_chunk() -> None:
    first = DeltaToolCall(
        index=0, id="call_1", type="function", function=DeltaFunctionCall(name="f", arguments="")
    )
    later = DeltaToolCall(index=0, function=DeltaFunctionCall(arguments='{"x"'))
    for delta_call in (first, later):
        chunk = ChatCompletionChunk(
            id="c",
            model="m",
            choices=[ChatChunkChoice(delta=ChatDelta(role="assistant", tool_calls=[delta_call]))],
        )
        body = json.loads(chunk.model_dump_json())
        parsed = SDKChatCompletionChunk.model_validate(body)
        tool_calls = parsed.choices[0].delta.tool_calls
        assert tool_calls is not None
        assert tool_calls[0].index == 0
    assert json.loads(later.model_dump_json()) == {"index": 0, "function": {"arguments": '{"x"'}}


def test_final_usage_chunk_has_no_choices() -> None:
    chunk = ChatCompletionChunk(id="c", model="m", choices=[], usage=Usage.of(5, 2))
    body = json.loads(chunk.model_dump_json())
    assert body["choices"] == []
    assert body["usage"]["total_tokens"] == 7
    parsed = SDKChatCompletionChunk.model_validate(body)
    assert parsed.usage is not None
    assert parsed.usage.completion_tokens == 2


def test_response_parses_back_with_upstream_extras() -> None:
    # A gateway parses an upstream's answer and must not lose fields we do not model.
    upstream = {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
        ],
        "timings": {"predicted_ms": 3.5},
    }
    response = ChatCompletionResponse.model_validate(upstream)
    assert json.loads(response.model_dump_json())["timings"] == {"predicted_ms": 3.5}
