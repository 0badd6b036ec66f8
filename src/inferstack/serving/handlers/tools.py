"""Tool calling and structured output for chat: from the request to the engine's
:class:`StructuredOutput`, and from the constrained output back to ``tool_calls``.

The model answers a tool call with JSON ``{"name": ..., "arguments": {...}}`` (or an array of
them when ``parallel_tool_calls`` allows), enforced token by token by the engine, so the call
and its arguments always parse and validate. ``tool_choice: "auto"`` leaves the model free to
answer in prose: the constraint applies only if its answer opens with ``{`` or ``[``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from inferstack.engines.base import Engine, StructuredOutput
from inferstack.errors import InvalidRequestError, UnsupportedFeatureError
from inferstack.protocol import ChatCompletionRequest, FunctionCall, ToolCall
from inferstack.protocol.messages import message_text
from inferstack.serving.handlers.tool_schema import parse_tool_calls, tool_call_schema

__all__ = ["MAX_PARALLEL_CALLS", "ToolPlan", "plan_output", "to_tool_calls"]

MAX_PARALLEL_CALLS = 4


@dataclass
class ToolPlan:
    """What the chat handler asks of the engine and how it reads the answer."""

    structured: StructuredOutput | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    """Tools to show the model (through its chat template)."""
    calls: Literal["never", "maybe", "always"] = "never"
    legacy: bool = False
    """Answer in the older ``function_call`` shape (the request used ``functions``)."""


def plan_output(body: ChatCompletionRequest, engine: Engine) -> ToolPlan:
    """Validate tools, ``tool_choice``, tool messages and ``response_format`` (schemas through
    the engine, which knows what it can enforce); plan the output."""
    tools, choice, legacy = _tools_and_choice(body)
    _check_tool_messages(body)
    fmt = body.response_format
    wants_json = fmt is not None and fmt.type != "text"
    if tools and choice != "none":
        if wants_json:
            raise UnsupportedFeatureError(
                "response_format together with tool calls is not supported; "
                "use tool_choice 'none' or drop response_format",
                param="response_format",
            )
        name = choice if choice not in ("auto", "required") else None
        parallel = bool(body.parallel_tool_calls) and not legacy and name is None

        def check(schema: dict[str, Any], param: str) -> None:
            engine.check_structured(StructuredOutput(schema, param=param))

        schema = _call_schema(tools, name, parallel, check)
        lazy = choice == "auto"
        structured = StructuredOutput(
            schema, lazy=lazy, param="tools", copy_from=_last_user_text(body)
        )
        engine.check_structured(structured)
        return ToolPlan(
            structured=structured,
            tools=tools,
            calls="maybe" if lazy else "always",
            legacy=legacy,
        )
    if not wants_json:
        return ToolPlan(legacy=legacy)
    assert fmt is not None
    if fmt.type == "json_object":
        structured = StructuredOutput(None, copy_from=_last_user_text(body))
    else:
        spec = fmt.json_schema  # type: ignore[union-attr]
        structured = StructuredOutput(
            spec.schema_,
            param="response_format.json_schema.schema",
            copy_from=_last_user_text(body),
        )
    engine.check_structured(structured)  # a 400 before any work starts
    return ToolPlan(structured=structured, legacy=legacy)


def _last_user_text(body: ChatCompletionRequest) -> str:
    """The latest user message's text: what tool arguments and extracted fields repeat."""
    for message in reversed(body.messages):
        if message.role == "user":
            return message_text(message.content)  # type: ignore[arg-type]
    return ""


def _tools_and_choice(body: ChatCompletionRequest) -> tuple[list[dict[str, Any]], str, bool]:
    """OpenAI ``tools``/``tool_choice``, or the legacy ``functions``/``function_call``."""
    if body.functions and body.tools:
        raise InvalidRequestError("send either tools or functions, not both", param="functions")
    if body.functions:
        tools = [
            {"type": "function", "function": f.model_dump(exclude_none=True, by_alias=True)}
            for f in body.functions
        ]
        raw: Any = body.function_call if body.function_call is not None else "auto"
        return tools, _choice_name(raw, "function_call"), True
    tools = [t.model_dump(exclude_none=True, by_alias=True) for t in body.tools or []]
    raw = body.tool_choice if body.tool_choice is not None else ("auto" if tools else "none")
    return tools, _choice_name(raw, "tool_choice"), False


def _choice_name(raw: Any, param: str) -> str:
    if isinstance(raw, str):
        return raw
    data = raw.model_dump() if hasattr(raw, "model_dump") else dict(raw)
    name = data.get("name") or (data.get("function") or {}).get("name")
    if not name:
        raise InvalidRequestError(f"{param} must name a function", param=param)
    return str(name)


def _call_schema(
    tools: list[dict[str, Any]],
    name: str | None,
    parallel: bool,
    check: Callable[[dict[str, Any], str], None],
) -> dict[str, Any]:
    single = tool_call_schema(tools, choice=name, parallel=False, check=check)
    if not parallel:
        return single
    many = tool_call_schema(tools, choice=name, parallel=True, max_calls=MAX_PARALLEL_CALLS)
    defs = single.pop("$defs")
    many.pop("$defs")
    return {"$defs": defs, "anyOf": [single, many]}


def _check_tool_messages(body: ChatCompletionRequest) -> None:
    """Every ``tool`` message must answer a call an earlier assistant message made."""
    known: set[str] = set()
    for i, message in enumerate(body.messages):
        role = message.role
        if role == "assistant":
            known.update(call.id for call in getattr(message, "tool_calls", None) or [])
        elif role == "tool":
            call_id = getattr(message, "tool_call_id", None)
            if call_id not in known:
                raise InvalidRequestError(
                    f"tool message answers unknown tool_call_id {call_id!r}; it must match the "
                    "id of a tool call in an earlier assistant message",
                    param=f"messages.{i}.tool_call_id",
                )


def looks_like_call(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[")


def to_tool_calls(text: str) -> list[ToolCall]:
    """The calls in a constrained tool-call answer."""
    return [
        ToolCall(
            id=f"call_{uuid.uuid4().hex[:24]}",
            function=FunctionCall(name=name, arguments=arguments),
        )
        for name, arguments in parse_tool_calls(text)
    ]
