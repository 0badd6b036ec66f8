import importlib.util

import pytest

from inferstack.engines.registry import ENGINES, create_engine, engine_names
from inferstack.errors import InvalidRequestError
from inferstack.models.sources import ResolvedModel


def _model() -> ResolvedModel:
    from pathlib import Path

    return ResolvedModel(name="m", kind="gguf", path=Path("/nonexistent.gguf"), source="x")


def test_unknown_engine_is_a_clear_error() -> None:
    with pytest.raises(InvalidRequestError, match="unknown engine 'nope'") as info:
        create_engine(_model(), engine="nope")
    assert info.value.param == "engine"
    assert "llamacpp" in engine_names()


def test_no_engine_is_offered_that_does_not_exist() -> None:
    # vLLM is planned (issue 16); until its module exists the registry must not name it.
    for name, module in ENGINES.items():
        assert importlib.util.find_spec(module) is not None, name
    with pytest.raises(InvalidRequestError, match="unknown engine 'vllm'"):
        create_engine(_model(), engine="vllm")
