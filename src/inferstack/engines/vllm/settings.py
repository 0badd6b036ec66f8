"""Settings of the vLLM engine."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from inferstack.config import Settings

__all__ = ["VllmSettings"]


class VllmSettings(Settings):
    """How the vLLM engine loads a Hugging Face model folder and batches sequences
    (environment prefix ``INFERSTACK_VLLM_``)."""

    model_config = SettingsConfigDict(env_prefix="INFERSTACK_VLLM_", extra="forbid")

    model_path: str = Field(
        description="Hugging Face model folder (config.json, weights, tokenizer)."
    )
    model_id: str = Field(description="Model id reported to clients.")
    max_model_len: int | None = Field(
        None, ge=64, description="Context length (prompt plus output); the model's own if unset."
    )
    max_num_seqs: int = Field(
        64, ge=1, le=4096, description="Sequences vLLM batches together (continuous batching)."
    )
    gpu_memory_utilization: float = Field(
        0.9, gt=0, le=1, description="Share of GPU memory vLLM may take (weights plus KV cache)."
    )
    tensor_parallel_size: int = Field(
        1, ge=1, description="GPUs one replica shards the model over."
    )
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="Weight and activation dtype."
    )
    enforce_eager: bool = Field(
        False, description="Skip CUDA graphs and torch.compile (faster start, slower decode)."
    )
    enable_prefix_caching: bool = Field(True, description="Reuse KV of shared prompt prefixes.")
    cpu_kv_cache_gib: int = Field(
        1, ge=1, description="KV cache size on a CPU build of vLLM (VLLM_CPU_KVCACHE_SPACE)."
    )
    seed: int | None = Field(
        None, description="Default sampling seed for requests that set none; random if unset."
    )
