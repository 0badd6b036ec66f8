"""The llama.cpp engine: continuous batching on libllama's low-level API."""

from __future__ import annotations

from typing import Any

from inferstack.engines.llamacpp.engine import LlamaCppEngine
from inferstack.engines.llamacpp.settings import LlamaCppSettings
from inferstack.models.sources import ResolvedModel

__all__ = ["LlamaCppEngine", "LlamaCppSettings", "create_engine"]


def create_engine(model: ResolvedModel, **options: Any) -> LlamaCppEngine:
    """The registry's factory: ``options`` are :class:`LlamaCppSettings` fields."""
    options.setdefault("model_id", model.name)
    return LlamaCppEngine(LlamaCppSettings.from_sources(model_path=str(model.path), **options))
