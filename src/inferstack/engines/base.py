"""The engine contract: the small async interface the model server talks to.

Serving turns OpenAI requests into :class:`GenerateRequest` and :class:`Delta` streams back into
OpenAI responses; it never knows which engine it has. Engines are injected, never picked by
``if`` chains: see :mod:`inferstack.engines.registry`.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from inferstack.errors import UnsupportedFeatureError

__all__ = [
    "Delta",
    "Embeddings",
    "Engine",
    "EngineStats",
    "FinishReason",
    "GenerateRequest",
    "ModelInfo",
    "RenderedChat",
    "SamplingParams",
    "StructuredOutput",
    "Timings",
    "TokenLogprob",
    "Usage",
]

FinishReason = Literal["stop", "length", "tool_calls"]


@dataclass(slots=True)
class StructuredOutput:
    """Output that must be JSON valid against ``schema`` (``None``: any JSON object)."""

    schema: dict[str, Any] | None = None
    lazy: bool = False
    """Free text, unless the output opens with ``{``: then the schema applies (``tool_choice``
    ``auto``: the model may answer or call a tool)."""
    param: str = "response_format"
    """The request field to name when the schema is refused."""
    copy_from: str = ""
    """Text the output's string values likely repeat (the user's message): engines that can
    favour such spans do (llama.cpp: ``copy_bias``)."""


@dataclass(slots=True)
class SamplingParams:
    """How to sample one sequence. Defaults follow the OpenAI API."""

    max_tokens: int | None = None
    """Output budget; ``None`` means until the context is full."""
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    """0 disables top-k."""
    min_p: float = 0.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    logit_bias: dict[int, float] = field(default_factory=dict)
    stop: list[str] = field(default_factory=list)
    structured: StructuredOutput | None = None
    """JSON the output must be (structured output, tool calls); stop strings don't apply."""
    ignore_eos: bool = False
    logprobs: int | None = None
    """Report each output token's log probability and this many most likely alternatives
    (0: none); ``None``: no log probabilities."""


@dataclass(slots=True)
class GenerateRequest:
    """One generation: a prompt (text or token ids) and how to sample it."""

    request_id: str
    prompt: str | list[int]
    params: SamplingParams = field(default_factory=SamplingParams)
    add_special: bool = True
    """Whether tokenizing a text prompt adds the model's BOS token."""


@dataclass(slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    """Prompt tokens whose KV was reused from an earlier request (prefix reuse)."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class Timings:
    """When a generation's phases happened (``time.time_ns()``, wall clock), for traces: queued
    until ``admitted`` to a slot, prefill until ``first_token``, decode until ``finished``."""

    queued_ns: int
    admitted_ns: int | None = None
    first_token_ns: int | None = None
    finished_ns: int | None = None


@dataclass(slots=True)
class TokenLogprob:
    """One output token with its log probability under the model (the raw logits'
    log-softmax, before sampling settings) and the most likely tokens at its position."""

    token: int
    piece: bytes
    """The token's bytes (may be part of a UTF-8 character)."""
    logprob: float
    top: list[tuple[int, bytes, float]] = field(default_factory=list)
    """``(token, piece, logprob)`` of the most likely tokens, most likely first."""


@dataclass(slots=True)
class Delta:
    """A piece of a generation. The last delta has ``finish_reason`` and ``usage`` set (and
    ``timings``, from engines that measure them)."""

    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    timings: Timings | None = None
    logprobs: list[TokenLogprob] = field(default_factory=list)
    """The output tokens since the previous delta, when the request asked for logprobs."""


@dataclass(slots=True)
class Embeddings:
    vectors: list[list[float]]
    prompt_tokens: int


@dataclass(slots=True)
class ModelInfo:
    """What the server tells clients about the model it serves."""

    id: str
    kind: Literal["chat", "embedding"]
    context_length: int
    owned_by: str = "inferstack"
    dimensions: int | None = None
    """Embedding width, for embedding models."""
    metadata: dict[str, Any] = field(default_factory=dict)
    generation_defaults: dict[str, Any] = field(default_factory=dict)
    """Sampling defaults for requests that omit them (``temperature``, ``top_p``, …), like a
    model's generation config in vLLM."""
    capabilities: list[str] = field(default_factory=list)
    """What clients can ask of the model: ``chat``, ``completions``, ``tools``,
    ``json_schema``, ``embeddings``; published in ``/v1/models``."""


@dataclass(slots=True)
class RenderedChat:
    """A chat conversation rendered into the model's prompt format."""

    prompt: str
    stop: list[str] = field(default_factory=list)
    """Stop strings the format implies (for example the next turn's marker)."""
    add_special: bool = True
    """Whether tokenizing ``prompt`` must add BOS (false when the template already wrote it)."""


@dataclass(slots=True)
class EngineStats:
    """A snapshot for health checks, admission control and metrics."""

    running: int = 0
    waiting: int = 0
    kv_cache_usage: float = 0.0
    """Share of KV cells in use, 0..1."""
    prefill_tokens_saved: int = 0
    """Prompt tokens not prefilled thanks to prefix reuse, since start."""


class Engine(abc.ABC):
    """A model behind an async interface. Generation engines override :meth:`generate`,
    embedding engines :meth:`embed`; each raises :class:`UnsupportedFeatureError` for the other."""

    info: ModelInfo
    max_concurrency: int = 1
    """Requests the engine works on at once; admission control queues the rest."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Load the model; after this returns the engine is ready."""

    @abc.abstractmethod
    async def shutdown(self) -> None:
        """Stop work and free the model."""

    @abc.abstractmethod
    def stats(self) -> EngineStats:
        """A cheap snapshot of the engine's load."""

    def ready(self) -> bool:
        """Whether the model is loaded and requests can be served."""
        return True

    def generate(self, request: GenerateRequest) -> AsyncIterator[Delta]:
        """Stream the generation for ``request``. Closing the iterator cancels it."""
        raise UnsupportedFeatureError(
            f"model {self.info.id!r} does not generate text", param="model"
        )

    async def embed(self, inputs: Sequence[str] | Sequence[list[int]]) -> Embeddings:
        """Embed texts (or pre-tokenized inputs) in one batch."""
        raise UnsupportedFeatureError(f"model {self.info.id!r} does not embed", param="model")

    def render_chat(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = True,
    ) -> RenderedChat:
        """Render OpenAI-shaped messages into the model's prompt text."""
        raise UnsupportedFeatureError(f"model {self.info.id!r} does not chat", param="model")

    def check_structured(self, spec: StructuredOutput) -> None:
        """Raise a 400 (naming ``spec.param`` and the keyword) unless this engine can enforce
        ``spec`` token by token. Engines that constrain output override this; serving asks it
        before any work starts, so it never needs the engine's grammar code."""
        raise UnsupportedFeatureError(
            f"model {self.info.id!r} does not support structured output", param=spec.param
        )

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        raise UnsupportedFeatureError(f"model {self.info.id!r} has no tokenizer", param="model")

    def detokenize(self, token_ids: list[int]) -> str:
        raise UnsupportedFeatureError(f"model {self.info.id!r} has no tokenizer", param="model")
