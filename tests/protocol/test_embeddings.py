"""Embedding requests, responses and the base64 encoding the openai SDK decodes."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from openai.types import CreateEmbeddingResponse as SDKEmbeddingResponse
from pydantic import ValidationError

from inferstack.protocol import (
    EmbeddingData,
    EmbeddingRequest,
    EmbeddingResponse,
    EmbeddingUsage,
    encode_embedding,
    validation_error_param,
)


@pytest.mark.parametrize(
    ("value", "batch"),
    [
        ("hello", ["hello"]),
        (["a", "b"], ["a", "b"]),
        ([1, 2, 3], [[1, 2, 3]]),
        ([[1], [2, 3]], [[1], [2, 3]]),
    ],
)
def test_input_shapes(value: Any, batch: Any) -> None:
    body = {"model": "e", "input": value, "encoding_format": "base64", "dimensions": 8, "user": "u"}
    request = EmbeddingRequest.model_validate(body)
    assert request.model_dump(exclude_unset=True) == body
    assert request.input_batch() == batch


@pytest.mark.parametrize("value", ["", [], [""], [[]], ["a", ""]])
def test_empty_input_is_refused(value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        EmbeddingRequest.model_validate({"model": "e", "input": value})
    assert validation_error_param(info.value)[1] == "input"


@pytest.mark.parametrize(("field", "value"), [("encoding_format", "binary"), ("dimensions", 0)])
def test_bad_options_name_their_param(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        EmbeddingRequest.model_validate({"model": "e", "input": "x", field: value})
    assert validation_error_param(info.value)[1] == field


def test_base64_decodes_back_to_the_vector() -> None:
    vector = [0.1, -2.5, 3.25, 1e-8, 0.0]
    encoded = encode_embedding(vector, "base64")
    assert isinstance(encoded, str)
    # Exactly how the openai SDK decodes it.
    decoded = np.frombuffer(base64.b64decode(encoded), dtype="float32")
    np.testing.assert_allclose(decoded, np.asarray(vector, dtype=np.float32))
    assert len(base64.b64decode(encoded)) == 4 * len(vector)
    assert base64.b64decode(encoded)[:4] == np.float32(0.1).tobytes()


def test_float_format_is_a_plain_list() -> None:
    assert encode_embedding(np.asarray([1, 2], dtype=np.float32).tolist(), "float") == [1.0, 2.0]


def test_response_serializes_like_openai() -> None:
    response = EmbeddingResponse(
        data=[
            EmbeddingData(index=0, embedding=[0.5, 0.25]),
            EmbeddingData(index=1, embedding=encode_embedding([1.0], "base64")),
        ],
        model="e",
        usage=EmbeddingUsage(prompt_tokens=4, total_tokens=4),
    )
    body = json.loads(response.model_dump_json())
    assert body["object"] == "list"
    assert body["data"][0] == {"object": "embedding", "index": 0, "embedding": [0.5, 0.25]}
    assert body["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    body["data"].pop()
    assert SDKEmbeddingResponse.model_validate(body).data[0].embedding == [0.5, 0.25]
