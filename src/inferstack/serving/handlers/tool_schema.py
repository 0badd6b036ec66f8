"""The JSON schema of a tool call, and reading calls back (OpenAI tool semantics, engine-free).

The model's tool-call output is ``{"name": <tool name>, "arguments": {...}}`` (``name``
first: properties are generated in schema order), or with parallel calls a JSON array of one
or more such objects. Each tool's parameters schema moves under ``$defs`` of the combined
schema, its local ``$ref`` s rebased, so pydantic-style ``$defs`` keep working.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from inferstack.errors import InvalidRequestError

__all__ = ["parse_tool_calls", "tool_call_schema"]

_EMPTY_PARAMETERS = {"type": "object", "properties": {}}
_VALUE_KEYWORDS = frozenset({"enum", "const", "default", "examples"})


def _function(tool: Any, i: int) -> tuple[str, Any, str]:
    """``(name, parameters, param)`` of an OpenAI tool or a legacy ``functions`` entry."""
    legacy = isinstance(tool, dict) and "function" not in tool
    where = f"functions.{i}" if legacy else f"tools.{i}.function"
    fn = tool if legacy else tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        raise InvalidRequestError("a tool must be a function with a name", param=f"{where}.name")
    params = fn.get("parameters")
    return fn["name"], _EMPTY_PARAMETERS if params is None else params, f"{where}.parameters"


def _rebase(schema: Any, prefix: str) -> Any:
    """A copy of ``schema`` whose local ``$ref`` s point under ``prefix``."""
    if isinstance(schema, list):
        return [_rebase(s, prefix) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str) and value.startswith("#"):
            out[key] = prefix + value[1:]
        elif key in _VALUE_KEYWORDS:
            out[key] = value  # data, not schemas
        else:
            out[key] = _rebase(value, prefix)
    return out


def tool_call_schema(
    tools: list[dict[str, Any]],
    *,
    choice: str | None,
    parallel: bool,
    max_calls: int | None = None,
    check: Callable[[dict[str, Any], str], None] | None = None,
) -> dict[str, Any]:
    """The JSON schema of the model's tool-call output.

    ``choice`` is None, ``"auto"`` or ``"required"`` (any of the tools) or a function name
    (only that tool). With ``parallel`` the output is an array of 1..``max_calls`` calls.
    ``check(parameters, param)`` validates each tool's parameters schema (the engine's
    :meth:`~inferstack.engines.base.Engine.check_structured`), so errors name the tool.
    Raises InvalidRequestError for a bad tool or a ``choice`` that names no tool."""
    if not isinstance(tools, list) or not tools:
        raise InvalidRequestError("'tools' must be a non-empty array", param="tools")
    if choice == "none":
        raise ValueError("tool_choice 'none' calls no tool: generate text instead")
    functions = [(i, *_function(tool, i)) for i, tool in enumerate(tools)]
    if choice not in (None, "auto", "required"):
        functions = [f for f in functions if f[1] == choice]
        if not functions:
            raise InvalidRequestError(f"tool_choice names no tool {choice!r}", param="tool_choice")
    defs: dict[str, Any] = {}
    calls = []
    for i, name, params, param in functions:
        if not isinstance(params, dict):
            raise InvalidRequestError("a tool's parameters must be a JSON schema", param=param)
        if check is not None:
            check(params, param)  # reports errors against this tool
        defs[f"tool{i}"] = _rebase(params, f"#/$defs/tool{i}")
        calls.append(
            {
                "type": "object",
                "properties": {"name": {"const": name}, "arguments": {"$ref": f"#/$defs/tool{i}"}},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    call = calls[0] if len(calls) == 1 else {"anyOf": calls}
    if not parallel:
        return {"$defs": defs, **call}
    schema: dict[str, Any] = {"$defs": defs, "type": "array", "items": call, "minItems": 1}
    if max_calls is not None:
        schema["maxItems"] = max_calls
    return schema


def parse_tool_calls(text: str) -> list[tuple[str, str]]:
    """``(name, arguments as a JSON string)`` for each call in constrained tool-call output
    (a single call object or an array of them)."""
    value = json.loads(text)
    calls = value if isinstance(value, list) else [value]
    return [(c["name"], json.dumps(c["arguments"], ensure_ascii=False)) for c in calls]
