"""From inferstack's :class:`SamplingParams` to vLLM's, without importing vLLM.

The result is plain keyword arguments for ``vllm.SamplingParams`` and, for structured output,
for ``vllm.sampling_params.StructuredOutputsParams``, so this translation is unit-tested on a
CPU install that has no vLLM.

Structured output has the llama.cpp engine's semantics: the schema is checked by the same
:func:`~inferstack.engines.structured.byte_compiler` (same 400s for the same keywords); objects
that list ``properties`` generate only those (``additionalProperties`` becomes false), in
compact JSON; ``lazy`` (``tool_choice: "auto"``) becomes a Lark grammar for vLLM's guidance
backend (llguidance): either prose that does not open with ``{`` or ``[``, or the JSON value.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from inferstack.engines.base import SamplingParams, StructuredOutput
from inferstack.engines.structured import byte_compiler

__all__ = [
    "ANY_OBJECT",
    "lazy_grammar",
    "normalized_schema",
    "sampling_kwargs",
    "structured_kwargs",
]

ANY_OBJECT: dict[str, Any] = {"type": "object"}
"""``json_object`` output: any JSON object."""

_NO_FLEX = {"whitespace_flexible": False}
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_SUBSCHEMAS = ("items", "additionalProperties", "not", "if", "then", "else", "contains")


def normalized_schema(schema: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of ``schema`` (``None``: any object) where every object schema that lists
    ``properties`` forbids other keys, as the llama.cpp engine generates only those."""
    out = copy.deepcopy(schema) if schema is not None else dict(ANY_OBJECT)
    _close_objects(out)
    return out


def _close_objects(node: Any) -> None:
    if not isinstance(node, dict):
        return
    if isinstance(node.get("properties"), dict):
        node["additionalProperties"] = False
    for key in _SUBSCHEMA_LISTS:
        for sub in node.get(key) or []:
            _close_objects(sub)
    for key in _SUBSCHEMA_MAPS:
        value = node.get(key)
        if isinstance(value, dict):
            for sub in value.values():
                _close_objects(sub)
    for key in _SUBSCHEMAS:
        _close_objects(node.get(key))


def lazy_grammar(schema: dict[str, Any]) -> str:
    """Lark (llguidance dialect): prose that opens with neither ``{`` nor ``[``, or the value."""
    with_options = {**schema, "x-guidance": _NO_FLEX}
    return (
        "start: call | prose\n"
        f"call: %json {json.dumps(with_options)}\n"
        "prose: /[^{\\[\\s](?s:.)*/\n"
    )


def structured_kwargs(spec: StructuredOutput) -> dict[str, Any]:
    """Keyword arguments of ``StructuredOutputsParams``; raises the same 400s as llama.cpp."""
    byte_compiler().compile(spec.schema, param=spec.param, lazy=spec.lazy)
    schema = normalized_schema(spec.schema)
    if spec.lazy:
        return {"grammar": lazy_grammar(schema)}
    return {"json": schema, "disable_any_whitespace": True}


def sampling_kwargs(
    params: SamplingParams, *, max_tokens: int, default_seed: int | None
) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` (output kind and structured output are
    added by the engine, which owns the vLLM types)."""
    kwargs: dict[str, Any] = {
        "max_tokens": max_tokens,
        "temperature": max(params.temperature, 0.0),
        "top_p": params.top_p,
        "top_k": params.top_k if params.top_k > 0 else 0,
        "min_p": params.min_p,
        "presence_penalty": params.presence_penalty,
        "frequency_penalty": params.frequency_penalty,
        "repetition_penalty": params.repetition_penalty,
        "seed": params.seed if params.seed is not None else default_seed,
        "ignore_eos": params.ignore_eos,
        "skip_special_tokens": True,
    }
    if params.logit_bias:
        kwargs["logit_bias"] = dict(params.logit_bias)
    if params.stop and params.structured is None:  # stop strings don't apply to JSON
        kwargs["stop"] = list(params.stop)
    return kwargs
