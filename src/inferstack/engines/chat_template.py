"""Chat templates: the model's own Jinja template from its metadata, or the documented fallback.

Models that carry ``tokenizer.chat_template`` are rendered with it in a sandboxed Jinja
environment, the way Hugging Face tokenizers render them. Models without one (the packaged
Gemma 3 270M base model among them) get the **transcript fallback**::

    <system and developer messages, joined by blank lines>

    <worked example turns>
    Q: <user message>
    A: <assistant message>
    Q: <user message>
    A:

with ``"\nQ:"`` as an implied stop string. A base model continues such a transcript with a
plain answer, where turn markers it never saw in training make it babble or echo. It follows
examples rather than instructions, so a few worked turns come first (:data:`EXAMPLE_TURNS`,
194 tokens with the instruction line; prompt-prefix reuse skips them when a slot holds them):
short, correct answers to simple questions with the sums written out (``3 + 5 = 8.``, so the
model restates a sum before it answers one), then a greeting (last: a greeting placed first
got a question back for "Hello!"). None of them is one of the questions of
``python -m inferstack.bench.evals.factual`` (a test checks), so that eval stays held out.
Measured there with the default model at its default settings (greedy, at most 256 tokens; see
``engines.llamacpp.engine``): without examples about 12/32 right, five turns about 22/32,
eleven with bare answers to the sums 23-24/32, these 25/32.

With tools, the system part lists them and says how to call one: answer with only a JSON object
``{"name": ..., "arguments": {...}}`` (the engine enforces that shape once the answer opens
with ``{``), and two worked turns precede the conversation: a plain answer, and a question whose
values reappear in a call of the first tool (realistic values from
:func:`~inferstack.engines.structured.example_value`, so the model copies values from the
question it is asked rather than empty ones). Earlier calls appear as
``A: {"name": ..., "arguments": ...}`` lines and their results as ``Tool (name): result``
lines.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from inferstack.engines.base import RenderedChat
from inferstack.engines.structured import example_value
from inferstack.errors import InvalidRequestError, UnsupportedFeatureError

__all__ = ["FALLBACK_STOP", "ChatTemplate", "message_text"]

FALLBACK_STOP = ["\nQ:"]

EXAMPLE_TURNS = [
    "Q: What is the capital of Portugal?",
    "A: Lisbon.",
    "Q: How many wheels does a bicycle have?",
    "A: Two.",
    "Q: Who painted the Mona Lisa?",
    "A: Leonardo da Vinci.",
    "Q: What is 3 + 5?",
    "A: 3 + 5 = 8.",
    "Q: What is the capital of Australia?",
    "A: Canberra.",
    "Q: How many minutes are in an hour?",
    "A: 60.",
    "Q: What color is grass?",
    "A: Green.",
    "Q: What is 9 minus 4?",
    "A: 9 minus 4 is 5.",
    "Q: Which animal says moo?",
    "A: The cow.",
    "Q: What is the capital of Greece?",
    "A: Athens.",
    "Q: Hello!",
    "A: Hello! How can I help you today?",
]
"""Worked turns before a conversation without tools (see the module docstring)."""
EXAMPLE_INSTRUCTION = "Answer each question briefly and correctly."


def message_text(message: dict[str, Any], index: int) -> str:
    """The text of a message's content: a string, or the text parts of a list joined."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for j, part in enumerate(content):
        kind = part.get("type")
        if kind == "text":
            texts.append(part.get("text", ""))
        elif kind in ("image_url", "input_image", "input_audio"):
            raise UnsupportedFeatureError(
                f"this model accepts text only: messages[{index}].content[{j}] is an {kind!r} "
                "part; images and audio need a vision (or audio) model",
                param=f"messages.{index}.content.{j}",
            )
        else:
            raise InvalidRequestError(
                f"unknown content part type {kind!r}", param=f"messages.{index}.content.{j}"
            )
    return "\n".join(texts)


def _raise_exception(message: str) -> None:
    raise jinja2.TemplateError(message)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)


class ChatTemplate:
    """Renders OpenAI-shaped messages into a prompt for one model."""

    def __init__(self, source: str | None, *, bos_token: str = "", eos_token: str = "") -> None:
        self.source = source
        self.bos_token = bos_token
        self.eos_token = eos_token
        self._template: jinja2.Template | None = None
        if source:
            env = ImmutableSandboxedEnvironment(
                trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
            )
            env.filters["tojson"] = _tojson
            env.globals["raise_exception"] = _raise_exception
            env.globals["strftime_now"] = _strftime_now
            self._template = env.from_string(source)

    @property
    def is_fallback(self) -> bool:
        return self._template is None

    def render(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = True,
    ) -> RenderedChat:
        if not messages:
            raise InvalidRequestError("messages must not be empty", param="messages")
        if self._template is None:
            return RenderedChat(
                prompt=_render_transcript(messages, tools or [], add_generation_prompt),
                stop=list(FALLBACK_STOP),
            )
        normalized = [
            {**m, "content": message_text(m, i)} if isinstance(m.get("content"), list) else m
            for i, m in enumerate(messages)
        ]
        try:
            prompt = self._template.render(
                messages=normalized,
                tools=tools or None,
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
            )
        except jinja2.TemplateError as exc:
            # The model's template rejects the conversation (e.g. roles out of order).
            raise InvalidRequestError(
                f"the model's chat template rejected the messages: {exc}", param="messages"
            ) from exc
        add_special = not (self.bos_token and prompt.startswith(self.bos_token))
        return RenderedChat(prompt=prompt, stop=[], add_special=add_special)


TOOLS_INTRO = (
    "You can call tools. To call one, answer with only a JSON object "
    '{"name": <tool name>, "arguments": <arguments object>}. Tools:'
)


def _describe_tools(tools: list[dict[str, Any]]) -> str:
    lines = [TOOLS_INTRO]
    for tool in tools:
        fn = tool.get("function", tool)
        params = json.dumps(fn.get("parameters") or {"type": "object"}, ensure_ascii=False)
        lines.append(f"- {fn['name']}: {fn.get('description', '').strip()} Arguments: {params}")
    return "\n".join(lines)


MAX_EXAMPLE_CALLS = 4
"""Tools that get a worked call each (a base model calls the tool it saw called)."""


def _example_turns(tools: list[dict[str, Any]]) -> list[str]:
    """Worked turns before the conversation: a plain answer, then for each of the first
    :data:`MAX_EXAMPLE_CALLS` tools a question whose values reappear as the arguments of its
    call. A base model follows examples, not instructions: with them it opens a call with
    ``{`` when a question needs a tool, still answers small talk in prose, picks the tool whose
    example resembles the question, and copies the values of the question into the arguments
    (shown empty arguments, it copies those instead)."""
    turns = ["Q: Hello!", "A: Hello! How can I help you today?"]
    for tool in tools[:MAX_EXAMPLE_CALLS]:
        fn = tool.get("function", tool)
        parameters = fn.get("parameters") or {"type": "object", "properties": {}}
        arguments = example_value(parameters)
        if not isinstance(arguments, dict):  # no sensible value to make up (a pattern, say)
            continue
        values = [str(v) for v in _leaves(arguments)]
        question = f"Use {fn['name']}" + (f" for {', '.join(values)}." if values else ".")
        call = json.dumps({"name": fn["name"], "arguments": arguments}, ensure_ascii=False)
        turns += [f"Q: {question}", f"A: {call}"]
    if len(turns) == 2:  # not one tool with example values: show the shape on a made-up one
        made_up = {"name": "get_time", "arguments": {"city": "Lisbon"}}
        turns += ["Q: Use get_time for Lisbon.", f"A: {json.dumps(made_up)}"]
    return turns


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _render_call(call: dict[str, Any]) -> str:
    fn = call["function"]
    try:
        arguments = json.loads(fn.get("arguments") or "{}")
    except json.JSONDecodeError:
        arguments = fn.get("arguments")
    return json.dumps({"name": fn["name"], "arguments": arguments}, ensure_ascii=False)


def _render_transcript(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]], add_generation_prompt: bool
) -> str:
    system: list[str] = []
    turns: list[str] = []
    names: dict[str, str] = {}
    for index, message in enumerate(messages):
        role = message.get("role")
        text = message_text(message, index).strip()
        if role in ("system", "developer"):
            system.append(text)
        elif role == "user":
            turns.append(f"Q: {text}")
        elif role == "assistant":
            calls = message.get("tool_calls") or []
            if message.get("function_call"):
                calls = [{"id": "", "function": message["function_call"]}]
            names.update({c.get("id", ""): c["function"]["name"] for c in calls})
            lines = [text] if text else []
            lines += [_render_call(c) for c in calls]
            turns.append("A: " + "\n".join(lines))
        elif role in ("tool", "function"):
            name = message.get("name") or names.get(message.get("tool_call_id", ""), "tool")
            turns.append(f"Tool ({name}): {text}")
        else:
            raise InvalidRequestError(f"unknown role {role!r}", param=f"messages.{index}.role")
    if add_generation_prompt:
        turns.append("A:")
    if tools:
        system.append(_describe_tools(tools))
        turns = [*_example_turns(tools), *turns]
    else:
        system.append(EXAMPLE_INSTRUCTION)
        turns = [*EXAMPLE_TURNS, *turns]
    head = "\n\n".join(s for s in system if s)
    body = "\n".join(turns)
    return f"{head}\n\n{body}" if head else body
