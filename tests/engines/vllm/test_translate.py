"""The vLLM engine's translation of sampling and structured output (no vLLM needed)."""

from __future__ import annotations

import json

import pytest

from inferstack.engines.base import SamplingParams, StructuredOutput
from inferstack.engines.vllm.translate import (
    lazy_grammar,
    normalized_schema,
    sampling_kwargs,
    structured_kwargs,
)
from inferstack.errors import UnsupportedFeatureError


def test_sampling_maps_every_knob() -> None:
    params = SamplingParams(
        max_tokens=7, temperature=0.5, top_p=0.9, top_k=40, min_p=0.05, presence_penalty=0.1,
        frequency_penalty=0.2, repetition_penalty=1.1, logit_bias={5: -2.0}, stop=["\n"],
        ignore_eos=True,
    )  # fmt: skip
    kwargs = sampling_kwargs(params, max_tokens=7, default_seed=11)
    assert kwargs == {
        "max_tokens": 7, "temperature": 0.5, "top_p": 0.9, "top_k": 40, "min_p": 0.05,
        "presence_penalty": 0.1, "frequency_penalty": 0.2, "repetition_penalty": 1.1,
        "seed": 11, "ignore_eos": True, "skip_special_tokens": True, "logit_bias": {5: -2.0},
        "stop": ["\n"],
    }  # fmt: skip
    assert sampling_kwargs(SamplingParams(seed=3), max_tokens=1, default_seed=11)["seed"] == 3


def test_structured_output_ignores_stop_strings() -> None:
    params = SamplingParams(stop=["}"], structured=StructuredOutput(None))
    assert "stop" not in sampling_kwargs(params, max_tokens=5, default_seed=None)


def test_objects_with_properties_generate_only_those() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "object", "properties": {"b": {"type": "integer"}}}},
        "additionalProperties": True,
        "$defs": {"x": {"type": "object", "properties": {"c": {"type": "string"}}}},
        "anyOf": [{"type": "object", "properties": {"d": {}}}],
    }
    out = normalized_schema(schema)
    assert out["additionalProperties"] is False
    assert out["properties"]["a"]["additionalProperties"] is False
    assert out["$defs"]["x"]["additionalProperties"] is False
    assert out["anyOf"][0]["additionalProperties"] is False
    assert schema["additionalProperties"] is True  # the request's schema is not changed
    assert normalized_schema(None) == {"type": "object"}


def test_strict_json_and_lazy_grammar() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    strict = structured_kwargs(StructuredOutput(schema))
    assert strict == {"json": normalized_schema(schema), "disable_any_whitespace": True}
    lazy = structured_kwargs(StructuredOutput(schema, lazy=True, param="tools"))
    assert lazy == {"grammar": lazy_grammar(normalized_schema(schema))}
    lines = lazy["grammar"].splitlines()
    assert lines[0] == "start: call | prose"
    embedded = json.loads(lines[1].removeprefix("call: %json "))
    assert embedded["x-guidance"] == {"whitespace_flexible": False}
    assert lines[2] == "prose: /[^{\\[\\s](?s:.)*/"


def test_unsupported_schema_is_the_same_400_as_llamacpp() -> None:
    with pytest.raises(UnsupportedFeatureError) as info:
        structured_kwargs(
            StructuredOutput({"type": "array", "uniqueItems": True}, param="p.schema")
        )
    assert info.value.param == "p.schema"
