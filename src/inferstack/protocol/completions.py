"""``POST /v1/completions`` (legacy text completions): request, response and streamed chunk."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from inferstack.protocol.base import (
    LogitBias,
    MinP,
    OpenAIModel,
    Penalty,
    PositiveInt,
    RepetitionPenalty,
    ResponseModel,
    Stop,
    Temperature,
    TopK,
    TopP,
    Usage,
    now,
    only_one,
    random_id,
    sampling_options,
)
from inferstack.protocol.chat import FinishReason, StreamOptions
from inferstack.protocol.logprobs import CompletionLogprobs

__all__ = [
    "CompletionChoice",
    "CompletionChunk",
    "CompletionRequest",
    "CompletionResponse",
    "Prompt",
]

Prompt = str | list[str] | list[int] | list[list[int]]


class CompletionRequest(OpenAIModel):
    """A text completion request, fields in the order of OpenAI's reference.

    OpenAI accepts a batch of prompts; we serve exactly one, given as text or token ids.
    """

    model: str
    prompt: Prompt
    best_of: int | None = None
    echo: bool | None = False
    frequency_penalty: Penalty | None = None
    logit_bias: LogitBias | None = None
    logprobs: int | None = Field(default=None, ge=0, le=5)
    """Log probabilities of the output tokens and of this many likeliest alternatives."""
    max_tokens: PositiveInt | None = 16
    n: PositiveInt | None = 1
    presence_penalty: Penalty | None = None
    seed: int | None = None
    stop: Stop | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    suffix: str | None = None
    """Accepted and ignored (insertion is not supported)."""
    temperature: Temperature | None = None
    top_p: TopP | None = None
    user: str | None = None

    # --- inferstack extensions (vLLM / llama.cpp sampling), not in OpenAI's API ---
    top_k: TopK | None = None
    min_p: MinP | None = None
    repetition_penalty: RepetitionPenalty | None = None
    ignore_eos: bool = False
    # --- end of extensions ---

    _check_best_of = field_validator("best_of")(only_one("best_of"))

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, value: Prompt) -> Prompt:
        if isinstance(value, str):
            return value
        if not value:
            raise ValueError("prompt must not be empty")
        first = value[0]
        if isinstance(first, int):
            return value
        if len(value) > 1:
            raise ValueError(f"only one prompt per request is supported, got {len(value)}")
        if isinstance(first, list) and not first:
            raise ValueError("prompt must not be empty")
        return value

    @property
    def single_prompt(self) -> str | list[int]:
        """The one prompt, as text or token ids, unwrapped from a one-element batch."""
        prompt = self.prompt
        if isinstance(prompt, str):
            return prompt
        first = prompt[0]
        if isinstance(first, int):
            return [token for token in prompt if isinstance(token, int)]
        return first

    def sampling_options(self, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Keyword arguments for the engine's ``SamplingParams``."""
        return sampling_options(self, self.max_tokens, defaults, logprobs=self.logprobs)


class CompletionChoice(ResponseModel):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"finish_reason", "logprobs"})

    text: str
    index: int = 0
    logprobs: CompletionLogprobs | None = None
    finish_reason: FinishReason | None = None


class CompletionResponse(ResponseModel):
    id: str = Field(default_factory=lambda: random_id("cmpl"))
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=now)
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None


class CompletionChunk(ResponseModel):
    """One streamed piece; OpenAI gives chunks the same ``object`` as the full response
    (``usage`` is left out until the usage chunk: the schema has no null for it)."""

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=now)
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
