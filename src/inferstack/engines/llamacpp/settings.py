"""Settings of the llama.cpp engine."""

from __future__ import annotations

import os
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from inferstack.config import Settings

__all__ = ["LlamaCppSettings"]


class LlamaCppSettings(Settings):
    """How the llama.cpp engine loads a model and schedules sequences
    (environment prefix ``INFERSTACK_LLAMACPP_``)."""

    model_config = SettingsConfigDict(env_prefix="INFERSTACK_LLAMACPP_", extra="forbid")

    model_path: str = Field(description="Path of the .gguf file to load.")
    model_id: str = Field(description="Model id reported to clients.")
    ctx_size: int = Field(
        4096, ge=64, description="Context length of each sequence (prompt plus output), in tokens."
    )
    parallel: int = Field(
        8, ge=1, le=256, description="Sequences decoded together (continuous-batching slots)."
    )
    threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="CPU threads for decoding (and for prefill unless threads_batch is set).",
    )
    threads_batch: int | None = Field(
        None, ge=1, description="CPU threads for prompt processing; defaults to threads."
    )
    mask_threads: int | None = Field(
        None,
        ge=0,
        description=(
            "Threads that fill the grammar masks of constrained sequences each step; 0 fills "
            "them one by one on the scheduler thread, with no thread pool beside llama.cpp's "
            "threads; defaults to threads."
        ),
    )
    batch_size: int = Field(
        512,
        ge=16,
        description=(
            "Token budget of one decode step: running sequences' tokens plus prefill chunks; "
            "at least parallel (each running sequence adds a token to every step)."
        ),
    )
    prefill_chunk: int = Field(
        64,
        ge=1,
        description=(
            "Prompts are prefilled in chunks starting at multiples of this many tokens, and a "
            "cached prefix is reused only up to such a boundary: the recomputed tail has the "
            "shapes of a cold start, so greedy output does not depend on what was cached "
            "(at most batch_size)."
        ),
    )
    kv_unified: bool = Field(
        False,
        description=(
            "One KV buffer shared by all sequences instead of one stream per sequence. Either "
            "way a request reuses another sequence's prompt prefix (same system prompt) without "
            "prefilling it again; with streams each sequence attends over its own cells only, "
            "which is faster when many sequences run (a prefix copy then duplicates a stream)."
        ),
    )
    gpu_layers: int = Field(0, ge=0, description="Layers to offload to a GPU build of llama.cpp.")
    seed: int | None = Field(
        None, description="Default sampling seed for requests that set none; random if unset."
    )
    grammar_cache_bytes: int = Field(
        32 * 1024 * 1024,
        ge=0,
        description=(
            "Compiled structured-output grammars kept for reuse, bounded by their total size."
        ),
    )

    copy_bias: float = Field(
        3.0,
        ge=0.0,
        description=(
            "Logit bonus, inside JSON strings of tool calls and structured output, for tokens "
            "that repeat a span of the user's message (0: off); see engines.llamacpp.copying."
        ),
    )

    @model_validator(mode="after")
    def _batch_holds_every_sequence(self) -> Self:
        if self.batch_size < self.parallel:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be at least parallel ({self.parallel}): "
                "each decode step holds one token of every running sequence"
            )
        return self
