"""Log probabilities in OpenAI's two shapes: per-token objects on chat, parallel arrays on
(legacy) text completions."""

from __future__ import annotations

from typing import ClassVar

from inferstack.protocol.base import ResponseModel

__all__ = ["ChatTokenLogprob", "ChoiceLogprobs", "CompletionLogprobs", "TopLogprob"]


class TopLogprob(ResponseModel):
    """One likely token at a position: its text, log probability and UTF-8 bytes."""

    nullable_fields: ClassVar[frozenset[str]] = frozenset({"bytes"})

    token: str
    logprob: float
    bytes: list[int] | None = None


class ChatTokenLogprob(TopLogprob):
    """An output token of a chat answer and the likeliest tokens at its position."""

    top_logprobs: list[TopLogprob]


class ChoiceLogprobs(ResponseModel):
    """``choices[].logprobs`` of a chat completion (or of one streamed chunk)."""

    nullable_fields: ClassVar[frozenset[str]] = frozenset({"content", "refusal"})

    content: list[ChatTokenLogprob] | None = None
    refusal: list[ChatTokenLogprob] | None = None


class CompletionLogprobs(ResponseModel):
    """``choices[].logprobs`` of a text completion: one entry per output token in each list;
    ``text_offset`` is where each token starts in the choice's text."""

    tokens: list[str]
    token_logprobs: list[float]
    top_logprobs: list[dict[str, float]]
    text_offset: list[int]
