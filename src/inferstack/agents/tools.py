"""Tools as data: a name, a description, a JSON schema for the arguments, and a call.

A tool built from a Python function gets its argument schema from the signature through
pydantic (the way the MCP SDK's ``Tool.from_function`` does), so the schema the model is
constrained to and the validation the call goes through are the same thing.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

__all__ = ["Tool", "ToolError", "ToolOutput", "tool"]

ToolCall = Callable[[dict[str, Any]], Awaitable["ToolOutput"]]


class ToolError(Exception):
    """A failure the model should read: returned to it as the tool's result, never raised."""


@dataclass
class ToolOutput:
    """What one tool call produced: text for the model, optional structured data for callers."""

    text: str
    data: Any = None
    is_error: bool = False


@dataclass
class Tool:
    """One callable tool. ``destructive`` tools run only after an approval."""

    name: str
    description: str
    parameters: dict[str, Any]
    call: ToolCall = field(repr=False)
    destructive: bool = False
    source: str = "function"

    def openai_schema(self) -> dict[str, Any]:
        """The tool as an OpenAI ``tools`` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        destructive: bool = False,
    ) -> Tool:
        """A tool from a function (sync or async); its parameters become the JSON schema."""
        args_model = _arguments_model(fn)
        schema = args_model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        is_async = inspect.iscoroutinefunction(fn)

        async def call(arguments: dict[str, Any]) -> ToolOutput:
            try:
                parsed = args_model.model_validate(arguments)
            except ValidationError as exc:
                raise ToolError(_validation_text(exc)) from exc
            kwargs = {k: getattr(parsed, k) for k in args_model.model_fields}
            if is_async:
                result = await fn(**kwargs)
            else:
                result = await asyncio.to_thread(fn, **kwargs)
            return _as_output(result)

        doc = inspect.getdoc(fn) or ""
        return cls(
            name=name or fn.__name__,
            description=description if description is not None else doc.strip(),
            parameters=schema,
            call=call,
            destructive=destructive,
        )


def tool(
    *, name: str | None = None, description: str | None = None, destructive: bool = False
) -> Callable[[Callable[..., Any]], Tool]:
    """Decorator form of :meth:`Tool.from_function`."""

    def wrap(fn: Callable[..., Any]) -> Tool:
        return Tool.from_function(fn, name=name, description=description, destructive=destructive)

    return wrap


def _arguments_model(fn: Callable[..., Any]) -> type[BaseModel]:
    hints = get_type_hints(fn)
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"{fn.__name__}: *args/**kwargs cannot become a tool schema")
        annotation = hints.get(param.name, Any)
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (annotation, default)
    config = ConfigDict(extra="forbid")
    return create_model(f"{fn.__name__}_arguments", __config__=config, **fields)


def _validation_text(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"{where}: {err['msg']}")
    return "invalid arguments: " + "; ".join(parts)


def _as_output(result: Any) -> ToolOutput:
    if isinstance(result, ToolOutput):
        return result
    if isinstance(result, str):
        return ToolOutput(text=result, data=result)
    if isinstance(result, BaseModel):
        return ToolOutput(text=result.model_dump_json(), data=result.model_dump(mode="json"))
    return ToolOutput(text=json.dumps(result, ensure_ascii=False, default=str), data=result)
