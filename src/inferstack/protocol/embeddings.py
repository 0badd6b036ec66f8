"""``POST /v1/embeddings``: request, response and the base64 encoding the ``openai`` SDK reads."""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from typing import Literal

from pydantic import Field, field_validator

from inferstack.protocol.base import OpenAIModel, ResponseModel

__all__ = [
    "EmbeddingData",
    "EmbeddingInput",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "EmbeddingUsage",
    "EncodingFormat",
    "encode_embedding",
]

EmbeddingInput = str | list[str] | list[int] | list[list[int]]
EncodingFormat = Literal["float", "base64"]
MAX_INPUTS = 2048
"""OpenAI's limit on the number of inputs in one request."""


class EmbeddingRequest(OpenAIModel):
    """An embeddings request: one text, a batch of texts, or token ids (one list or a batch)."""

    model: str
    input: EmbeddingInput
    encoding_format: EncodingFormat = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None

    @field_validator("input")
    @classmethod
    def _not_empty(cls, value: EmbeddingInput) -> EmbeddingInput:
        if isinstance(value, str):
            items: Sequence[object] = [value]
        elif value and isinstance(value[0], int):
            items = [value]
        else:
            items = value
        if not items:
            raise ValueError("input must not be empty")
        if len(items) > MAX_INPUTS:
            raise ValueError(f"input must have at most {MAX_INPUTS} items, got {len(items)}")
        if any(len(item) == 0 for item in items if isinstance(item, str | list)):
            raise ValueError("input must not contain empty strings or empty token lists")
        return value

    def input_batch(self) -> list[str] | list[list[int]]:
        """The inputs as a batch: texts, or token id lists."""
        value = self.input
        if isinstance(value, str):
            return [value]
        if isinstance(value[0], int):
            return [[token for token in value if isinstance(token, int)]]
        return value  # type: ignore[return-value]  # list[str] or list[list[int]] by the union


class EmbeddingData(ResponseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str
    """The vector, or the base64 of its little-endian float32 bytes."""


class EmbeddingUsage(ResponseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(ResponseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: EmbeddingUsage


def encode_embedding(vector: Sequence[float], encoding_format: EncodingFormat) -> list[float] | str:
    """The vector as the response carries it: a list of floats, or base64 of float32 LE bytes.

    The ``openai`` SDK decodes base64 with ``numpy.frombuffer(..., dtype="float32")``.
    """
    if encoding_format == "base64":
        packed = struct.pack(f"<{len(vector)}f", *vector)
        return base64.b64encode(packed).decode("ascii")
    return [float(x) for x in vector]
