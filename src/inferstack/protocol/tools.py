"""Tool (function) calling types shared by chat requests and responses, legacy ``functions`` too."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

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


class FunctionCall(OpenAIModel):
    """A call the model made; ``arguments`` is JSON text, as OpenAI sends it."""

    name: str
    arguments: str


class ToolCall(OpenAIModel):
    """One entry of an assistant message's ``tool_calls``."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall
