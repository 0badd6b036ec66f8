import pytest

from inferstack.engines.registry import create_engine, engine_names
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


def test_an_engine_that_is_not_installed_says_so() -> None:
    # The GPU engine's slot exists, but its module is not part of a CPU install.
    with pytest.raises(UnsupportedFeatureError, match="engine 'vllm' is not available"):
        create_engine(_model(), engine="vllm")
