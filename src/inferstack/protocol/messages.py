"""Chat messages: a union discriminated on ``role``, content as a string or a list of parts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from inferstack.protocol.base import OpenAIModel, discriminated_by, tag
from inferstack.protocol.tools import FunctionCall, ToolCall

__all__ = [
    "AssistantMessage",
    "ChatMessage",
    "ContentPart",
    "DeveloperMessage",
    "FunctionMessage",
    "ImageURL",
    "ImageURLPart",
    "RefusalPart",
    "SystemMessage",
    "TextPart",
    "ToolMessage",
    "UserMessage",
    "message_text",
]


class TextPart(OpenAIModel):
    type: Literal["text"]
    text: str


class ImageURL(OpenAIModel):
    """An image by URL or ``data:`` URI; ``detail`` is a hint for vision models."""

    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImageURLPart(OpenAIModel):
    type: Literal["image_url"]
    image_url: ImageURL


class RefusalPart(OpenAIModel):
    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[
    Annotated[TextPart, tag("type", "text")] | Annotated[ImageURLPart, tag("type", "image_url")],
    discriminated_by("type", ["text", "image_url"]),
]
AssistantPart = Annotated[
    Annotated[TextPart, tag("type", "text")] | Annotated[RefusalPart, tag("type", "refusal")],
    discriminated_by("type", ["text", "refusal"]),
]


class SystemMessage(OpenAIModel):
    role: Literal["system"]
    content: str | list[TextPart]
    name: str | None = None


class DeveloperMessage(OpenAIModel):
    """The newer name of the system message (OpenAI o-series models)."""

    role: Literal["developer"]
    content: str | list[TextPart]
    name: str | None = None


class UserMessage(OpenAIModel):
    role: Literal["user"]
    content: str | list[ContentPart]
    name: str | None = None


class AssistantMessage(OpenAIModel):
    """An earlier model turn; ``content`` may be null when it only called tools."""

    role: Literal["assistant"]
    content: str | list[AssistantPart] | None = None
    refusal: str | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None
    """Legacy single function call (before ``tool_calls``)."""


class ToolMessage(OpenAIModel):
    """The result of a tool call, tied to it by ``tool_call_id``."""

    role: Literal["tool"]
    content: str | list[TextPart]
    tool_call_id: str


class FunctionMessage(OpenAIModel):
    """Legacy result of a function call (before tools)."""

    role: Literal["function"]
    name: str
    content: str | None


ROLES = ["system", "developer", "user", "assistant", "tool", "function"]

ChatMessage = Annotated[
    Annotated[SystemMessage, tag("role", "system")]
    | Annotated[DeveloperMessage, tag("role", "developer")]
    | Annotated[UserMessage, tag("role", "user")]
    | Annotated[AssistantMessage, tag("role", "assistant")]
    | Annotated[ToolMessage, tag("role", "tool")]
    | Annotated[FunctionMessage, tag("role", "function")],
    discriminated_by("role", ROLES),
]


def message_text(content: str | list[Any] | None) -> str:
    """The text of a message's content: the string itself, or its text parts joined.

    Image and refusal parts are skipped; a prompt template that needs images reads the parts.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content if isinstance(part, TextPart))
