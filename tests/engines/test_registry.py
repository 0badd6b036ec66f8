import importlib.util

import pytest

from inferstack.engines.registry import ENGINES, create_engine, engine_names
from inferstack.errors import InvalidRequestError, UnsupportedFeatureError
from inferstack.models.sources import ResolvedModel


def _model() -> ResolvedModel:
    from pathlib import Path

    return ResolvedModel(name="m", kind="gguf", path=Path("/nonexistent.gguf"), source="x")


def test_unknown_engine_is_a_clear_error() -> None:
    with pytest.raises(InvalidRequestError, match="unknown engine 'nope'") as info:
        create_engine(_model(), engine="nope")
    assert info.value.param == "engine"
    assert "llamacpp" in engine_names()


def test_every_engine_in_the_registry_exists() -> None:
    for name, module in ENGINES.items():
        assert importlib.util.find_spec(module) is not None, name


def test_vllm_is_installed_apart_and_says_how() -> None:
    # The CPU install never has vLLM (it lives in .venv-vllm, see `make install-vllm`).
    assert importlib.util.find_spec("vllm") is None
    with pytest.raises(UnsupportedFeatureError, match="make install-vllm") as info:
        create_engine(_model(), engine="vllm")
    assert info.value.param == "engine"
