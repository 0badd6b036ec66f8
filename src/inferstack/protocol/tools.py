"""Tool (function) calling types shared by chat requests and responses, legacy ``functions`` too."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from inferstack.protocol.base import OpenAIModel

__all__ = [
    "ChatTool",
    "FunctionCall",
    "FunctionDefinition",
    "FunctionName",
    "ToolCall",
    "ToolChoice",
    "ToolChoiceFunction",
]


class FunctionDefinition(OpenAIModel):
    """A function the model may call: ``parameters`` is a JSON schema of its arguments."""

    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ChatTool(OpenAIModel):
    """An entry of ``tools``: ``{"type": "function", "function": {...}}``."""

    type: Literal["function"]
    function: FunctionDefinition


class FunctionName(OpenAIModel):
    name: str


class ToolChoiceFunction(OpenAIModel):
    """``tool_choice`` naming one function: ``{"type": "function", "function": {"name": …}}``."""

    type: Literal["function"]
    function: FunctionName


ToolChoice = Literal["none", "auto", "required"] | ToolChoiceFunction


MAX_ARGUMENTS_DEPTH = 64
"""Deepest nesting of arrays and objects inside a call's ``arguments`` text."""


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON ``text`` (without parsing it, so any depth
    is measured without recursion; brackets inside strings do not count)."""
    if text.count("[") + text.count("{") <= MAX_ARGUMENTS_DEPTH:
        return text.count("[") + text.count("{")  # an upper bound, and small: no scan needed
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


class FunctionCall(OpenAIModel):
    """A call the model made; ``arguments`` is JSON text, as OpenAI sends it."""

    name: str
    arguments: str

    @field_validator("arguments")
    @classmethod
    def _not_absurdly_deep(cls, value: str) -> str:
        depth = json_depth(value)
        if depth > MAX_ARGUMENTS_DEPTH:
            raise ValueError(
                f"arguments nest {depth} levels deep; at most {MAX_ARGUMENTS_DEPTH} are accepted"
            )
        return value


class ToolCall(OpenAIModel):
    """One entry of an assistant message's ``tool_calls``."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall
