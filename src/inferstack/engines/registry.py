"""Which engine serves a model: a table from engine name to factory, no ``if`` chains.

Each factory is ``create_engine(model: ResolvedModel, **options) -> Engine`` in its module,
imported only when used, so a CPU host never imports vLLM (installed apart: ``make install-vllm``).
"""

from __future__ import annotations

import importlib
from typing import Any

from inferstack.engines.base import Engine
from inferstack.errors import InvalidRequestError, UnsupportedFeatureError
from inferstack.models.sources import ResolvedModel, resolve_model

__all__ = ["ENGINES", "create_engine", "engine_names"]

ENGINES: dict[str, str] = {
    "llamacpp": "inferstack.engines.llamacpp",
    "embeddings": "inferstack.engines.embeddings",
    "vllm": "inferstack.engines.vllm",
}
"""Engine name → module that provides ``create_engine``."""

DEFAULT_ENGINE: dict[str, str] = {"gguf": "llamacpp", "onnx": "embeddings", "hf": "vllm"}
"""Model file kind → engine used when none is named."""


def engine_names() -> list[str]:
    return sorted(ENGINES)


def create_engine(
    spec: str | ResolvedModel, *, engine: str | None = None, **options: Any
) -> Engine:
    """Resolve ``spec`` (see :func:`inferstack.models.sources.resolve_model`) and build its
    engine; ``options`` go to the engine's settings. The engine is not started."""
    model = resolve_model(spec) if isinstance(spec, str) else spec
    name = engine or DEFAULT_ENGINE[model.kind]
    if name not in ENGINES:
        raise InvalidRequestError(
            f"unknown engine {name!r}; choose one of {', '.join(engine_names())}", param="engine"
        )
    try:
        module = importlib.import_module(ENGINES[name])
    except ModuleNotFoundError as exc:
        raise UnsupportedFeatureError(
            f"engine {name!r} is not available here ({exc.name} is missing)", param="engine"
        ) from exc
    factory = module.create_engine
    result: Engine = factory(model, **options)
    return result
