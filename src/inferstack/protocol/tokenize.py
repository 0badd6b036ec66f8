"""``POST /tokenize`` and ``POST /detokenize`` (not OpenAI: the shapes vLLM serves, which
llama-server's clients also speak): text or a chat to token ids, and back."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from inferstack.protocol.base import OpenAIModel, ResponseModel
from inferstack.protocol.messages import ChatMessage

__all__ = ["DetokenizeRequest", "DetokenizeResponse", "TokenizeRequest", "TokenizeResponse"]


class TokenizeRequest(OpenAIModel):
    """Either ``prompt`` (text) or ``messages`` (a chat, rendered with the model's template)."""

    model: str | None = None
    prompt: str | None = None
    messages: Annotated[list[ChatMessage], Field(min_length=1)] | None = None
    add_special_tokens: bool = True
    """Add the model's BOS token to a ``prompt`` (a rendered chat decides for itself)."""
    add_generation_prompt: bool = True
    """End a rendered chat with the assistant turn's opening, as a chat request would."""

    @model_validator(mode="after")
    def _prompt_or_messages(self) -> Self:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("send exactly one of prompt and messages")
        return self


class TokenizeResponse(ResponseModel):
    count: int
    max_model_len: int
    tokens: list[int]


class DetokenizeRequest(OpenAIModel):
    model: str | None = None
    tokens: list[int]


class DetokenizeResponse(ResponseModel):
    prompt: str
