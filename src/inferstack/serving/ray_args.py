"""Arguments of the Ray Serve application builder (``inferstack.serving.ray_app:build_app``).

This is the one definition of those names: the Helm chart passes each model's ``serve`` values
through as the ``args`` of its ``serveConfigV2`` application, ``inferstack deploy validate``
checks every rendered application against :class:`RayAppArgs`, and the builder parses its
``args`` with it. Unknown keys are errors (``extra="forbid"``), so a typo such as
``max_ongoing_request`` fails CI instead of being ignored on the cluster.

Imports nothing but pydantic, so the deploy tooling can use it without Ray or an engine.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ENGINE_OPTION_NAMES",
    "AutoscalingArgs",
    "EngineName",
    "RayActorArgs",
    "RayAppArgs",
    "VllmArgs",
]

EngineName = Literal["llamacpp", "embeddings", "vllm"]


ENGINE_OPTION_NAMES: dict[str, dict[str, str]] = {
    "llamacpp": {"threads": "threads", "ctx_size": "ctx_size", "parallel": "parallel"},
    "embeddings": {"threads": "threads", "ctx_size": "max_batch_tokens", "parallel": "batch_size"},
    "vllm": {"ctx_size": "max_model_len", "parallel": "max_num_seqs"},
}
"""Engine → which of its settings each of ``threads``, ``ctx_size``, ``parallel`` sets."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AutoscalingArgs(_Strict):
    """Ray Serve replica autoscaling (a subset of Serve's ``autoscaling_config``)."""

    min_replicas: int = Field(1, ge=0, description="Fewest replicas kept running.")
    max_replicas: int = Field(1, ge=1, description="Most replicas started under load.")
    target_ongoing_requests: float = Field(
        description="Requests in flight per replica that autoscaling aims for.", gt=0
    )
    upscale_delay_s: float = Field(30.0, ge=0, description="Load must last this long to scale up.")
    downscale_delay_s: float = Field(
        600.0, ge=0, description="Idle time before a replica is removed."
    )

    @model_validator(mode="after")
    def _check_bounds(self) -> AutoscalingArgs:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) exceeds max_replicas ({self.max_replicas})"
            )
        return self


class RayActorArgs(_Strict):
    """Resources Ray reserves for each replica."""

    num_cpus: float = Field(ge=0, description="CPUs per replica; match the engine's threads.")
    num_gpus: float = Field(0.0, ge=0, description="GPUs per replica.")


class VllmArgs(_Strict):
    """vLLM-only settings (``engine: vllm``); ``ctx_size`` and ``parallel`` set its
    ``max_model_len`` and ``max_num_seqs``."""

    gpu_memory_utilization: float = Field(
        0.9, gt=0, le=1, description="Share of GPU memory vLLM may take."
    )
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs one replica shards over.")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field("auto", description="dtype.")
    enforce_eager: bool = Field(False, description="No CUDA graphs: faster start, slower decode.")


class RayAppArgs(_Strict):
    """One model server as a Ray Serve application: which model, which engine, how it scales."""

    model: str = Field(
        "default",
        min_length=1,
        description="Model source: default, default-embedding, a .gguf path or hf://org/repo/file.",
    )
    engine: EngineName = Field("llamacpp", description="Engine that serves the model.")
    threads: int = Field(2, ge=1, description="CPU threads of the engine in each replica.")
    ctx_size: int | None = Field(
        None, ge=64, description="Context length per sequence; the engine's default if unset."
    )
    parallel: int = Field(8, ge=1, description="Sequences (or embedding inputs) batched together.")
    num_replicas: int | None = Field(
        None, ge=1, description="Fixed replica count; exclusive with autoscaling_config."
    )
    autoscaling_config: AutoscalingArgs | None = Field(
        None, description="Replica autoscaling; exclusive with num_replicas."
    )
    max_ongoing_requests: int = Field(
        32,
        ge=1,
        description="Requests one replica accepts at once (Ray's default of 5 starves batching).",
    )
    max_queued_requests: int = Field(
        64,
        ge=0,
        description=(
            "Requests waiting for a replica beyond max_ongoing_requests; more are shed with "
            "429 and Retry-After (never an unbounded queue)."
        ),
    )
    retry_after_s: float = Field(
        1.0, ge=0, description="Retry-After (seconds, rounded up) sent with a shed request's 429."
    )
    ray_actor_options: RayActorArgs | None = Field(
        None, description="Replica resources; defaults to num_cpus = threads."
    )
    vllm: VllmArgs | None = Field(None, description="vLLM settings (engine: vllm only).")

    @model_validator(mode="after")
    def _check_scaling(self) -> RayAppArgs:
        if self.num_replicas is not None and self.autoscaling_config is not None:
            raise ValueError("set either num_replicas or autoscaling_config, not both")
        if self.vllm is not None and self.engine != "vllm":
            raise ValueError("the vllm block applies only to engine: vllm")
        gpus = self.actor_options().num_gpus
        if self.vllm is not None and gpus and gpus < self.vllm.tensor_parallel_size:
            raise ValueError("ray_actor_options.num_gpus is below vllm.tensor_parallel_size")
        return self

    def actor_options(self) -> RayActorArgs:
        """The replica's resources, defaulting to one CPU per engine thread."""
        return self.ray_actor_options or RayActorArgs(num_cpus=self.threads)

    def engine_options(self) -> dict[str, Any]:
        """Keyword arguments for ``inferstack.engines.registry.create_engine``."""
        names = ENGINE_OPTION_NAMES[self.engine]
        values = {"threads": self.threads, "ctx_size": self.ctx_size, "parallel": self.parallel}
        options = {names[k]: v for k, v in values.items() if k in names and v is not None}
        if self.vllm is not None:
            options.update(self.vllm.model_dump())
        return options

    def deployment_options(self) -> dict[str, Any]:
        """Keyword arguments for ``serve.Deployment.options``."""
        options: dict[str, Any] = {
            "max_ongoing_requests": self.max_ongoing_requests,
            # NOTE: Serve's own default (-1) queues without bound; overload must shed instead,
            # as 429 (Serve's default rejection is 503, which clients read as an outage).
            "max_queued_requests": self.max_queued_requests,
            "backpressure_config": {"status_code": 429, "retry_after_s": self.retry_after_s},
            "ray_actor_options": self.actor_options().model_dump(exclude_defaults=True),
        }
        if self.autoscaling_config is not None:
            options["autoscaling_config"] = self.autoscaling_config.model_dump()
        else:
            options["num_replicas"] = self.num_replicas or 1
        return options
