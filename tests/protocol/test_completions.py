"""CompletionRequest: prompt shapes, the one-prompt rule, defaults; completion responses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types import Completion as SDKCompletion
from pydantic import ValidationError

from inferstack.protocol import (
    CompletionChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    Usage,
    validation_error_param,
)


@pytest.mark.parametrize(
    ("prompt", "single"),
    [
        ("Q: capital of France?\nA:", "Q: capital of France?\nA:"),
        (["only one"], "only one"),
        ([1, 2, 3], [1, 2, 3]),
        ([[4, 5]], [4, 5]),
        ("", ""),
    ],
)
def test_prompt_shapes_round_trip(prompt: Any, single: Any) -> None:
    body = {"model": "m", "prompt": prompt}
    request = CompletionRequest.model_validate(body)
    assert request.model_dump(exclude_unset=True) == body
    assert request.single_prompt == single


@pytest.mark.parametrize(
    ("prompt", "needle"),
    [
        (["a", "b"], "only one prompt"),
        ([[1], [2]], "only one prompt"),
        ([], "must not be empty"),
        ([[]], "must not be empty"),
    ],
)
def test_batches_and_empty_prompts_are_refused(prompt: Any, needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        CompletionRequest.model_validate({"model": "m", "prompt": prompt})
    message, param = validation_error_param(info.value)
    assert param == "prompt"
    assert needle in message


def test_best_of_is_one_and_n_positive() -> None:
    CompletionRequest.model_validate({"model": "m", "prompt": "x", "best_of": 1, "n": 3})
    for field, value in (("best_of", 2), ("n", 0)):
        with pytest.raises(ValidationError) as info:
            CompletionRequest.model_validate({"model": "m", "prompt": "x", field: value})
        assert validation_error_param(info.value)[1] == field


def test_defaults_and_sampling_options() -> None:
    request = CompletionRequest.model_validate(
        {
            "model": "m",
            "prompt": "x",
            "echo": False,
            "suffix": "ignored",
            "logprobs": 2,
            "stop": ["\n", "Q:"],
            "temperature": 0,
            "seed": 1,
            "min_p": 0.1,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )
    assert request.max_tokens == 16
    options = request.sampling_options()
    assert options["max_tokens"] == 16
    assert options["stop"] == ["\n", "Q:"]
    assert options["temperature"] == 0.0
    assert options["seed"] == 1
    assert options["min_p"] == 0.1
    assert options["top_k"] == 0


def test_response_and_chunk_serialize_like_openai() -> None:
    response = CompletionResponse(
        model="m",
        choices=[CompletionChoice(text=" Paris.", finish_reason="stop")],
        usage=Usage.of(8, 3),
    )
    body = json.loads(response.model_dump_json())
    assert body["object"] == "text_completion"
    assert body["id"].startswith("cmpl-")
    assert body["choices"] == [
        {"text": " Paris.", "index": 0, "logprobs": None, "finish_reason": "stop"}
    ]
    assert SDKCompletion.model_validate(body).choices[0].text == " Paris."

    chunk = CompletionChunk(id="cmpl-1", model="m", choices=[CompletionChoice(text=" Pa")])
    chunk_body = json.loads(chunk.model_dump_json())
    assert chunk_body["choices"][0]["finish_reason"] is None
    assert chunk_body["object"] == "text_completion"
    # OpenAI streams "finish_reason": null although the SDK's type says otherwise (the SDK
    # builds stream events without validating them).
    assert chunk_body["choices"][0]["text"] == " Pa"
