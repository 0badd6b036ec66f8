"""Hypothesis strategies for hostile and careless OpenAI requests, and the check every answer
must pass: never a 5xx, every 4xx an OpenAI error body, every 200 a well-formed response.

Requests start from a valid body per route and get mutated: fields dropped, replaced by any
JSON value (lone surrogates, Unicode digits, 5,000-digit numbers, NaN, deep nesting included),
unknown fields added; some bodies are not JSON at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from inferstack.protocol import iter_sse_data
from support.openai_spec import openai_errors

__all__ = ["ROUTES", "Route", "check_answer", "request_bodies"]

# Numbers Python's json cannot even write (over 4,300 digits): stand-ins, spliced in as text.
_BIG, _NEG_BIG = "__big_number__", "__negative_big_number__"
_SPLICE = {f'"{_BIG}"': "1" + "0" * 5000, f'"{_NEG_BIG}"': "-1" + "0" * 400}

# Text that breaks naive code: lone surrogates, Unicode digits, control and RTL characters.
_TRICKY = st.sampled_from(
    [
        "\ud800",
        "\udfff",
        "²",
        "٣",
        "\U0001d7d7",
        "\x00",
        "\u202e",
        "\ufeff",
        "💥",
        "A\u0301",
        "\r\n",
        "{",
    ]
)
TEXT = st.one_of(
    st.text(max_size=30),
    st.lists(st.one_of(_TRICKY, st.text(max_size=4)), max_size=6).map("".join),
    st.text(alphabet=st.characters(codec=None, categories=["Cs", "Nd", "No", "Cc"]), max_size=8),
)
NUMBER = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**31, 2**63, _BIG, _NEG_BIG]),
    st.floats(allow_nan=True, allow_infinity=True),
)


def _deep(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


LEAF = st.one_of(st.none(), st.booleans(), NUMBER, TEXT)
JSON = st.one_of(
    st.recursive(
        LEAF,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)
        ),
        max_leaves=12,
    ),
    st.sampled_from([50, 150, 1000]).map(_deep),
)

MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant", "tool", "developer", "x"])},
    optional={
        "content": st.one_of(
            TEXT,
            st.lists(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["text", "image_url", "refusal", "audio"])},
                    optional={"text": TEXT, "image_url": JSON, "refusal": TEXT},
                ),
                max_size=3,
            ),
            JSON,
        ),
        "name": TEXT,
        "tool_call_id": TEXT,
        "tool_calls": st.lists(
            st.fixed_dictionaries(
                {
                    "id": TEXT,
                    "type": st.just("function"),
                    "function": st.fixed_dictionaries(
                        {
                            "name": TEXT,
                            "arguments": st.one_of(
                                TEXT,
                                st.sampled_from([10, 70, 1000]).map(lambda d: json.dumps(_deep(d))),
                            ),
                        }
                    ),
                }
            ),
            max_size=2,
        ),
    },
)

TOOL = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["function", "code"]),
        "function": st.fixed_dictionaries(
            {"name": st.one_of(st.just("get_weather"), TEXT)},
            optional={
                "description": TEXT,
                "parameters": st.one_of(
                    st.just({"type": "object", "properties": {"city": {"type": "string"}}}),
                    JSON,
                ),
            },
        ),
    }
)

SAMPLING: dict[str, st.SearchStrategy[Any]] = {
    "temperature": NUMBER,
    "top_p": NUMBER,
    "top_k": NUMBER,
    "min_p": NUMBER,
    "max_tokens": st.one_of(st.integers(min_value=-2, max_value=8), NUMBER),
    "frequency_penalty": NUMBER,
    "presence_penalty": NUMBER,
    "repetition_penalty": NUMBER,
    "seed": NUMBER,
    "n": st.one_of(st.integers(min_value=-1, max_value=10), NUMBER),
    "stop": st.one_of(TEXT, st.lists(TEXT, max_size=6)),
    "stream": st.booleans(),
    "stream_options": st.one_of(st.just({"include_usage": True}), JSON),
    "logit_bias": st.dictionaries(
        st.one_of(st.integers(0, 300).map(str), TEXT, st.just("9" * 5000)),
        NUMBER,
        max_size=3,
    ),
    "ignore_eos": st.booleans(),
    "user": TEXT,
}

CHAT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    **SAMPLING,
    "messages": st.lists(MESSAGE, max_size=4),
    "logprobs": st.one_of(st.booleans(), JSON),
    "top_logprobs": st.one_of(st.integers(-1, 25), NUMBER),
    "max_completion_tokens": st.one_of(st.integers(min_value=-2, max_value=8), NUMBER),
    "tools": st.lists(TOOL, max_size=2),
    "tool_choice": st.one_of(
        st.sampled_from(["auto", "none", "required", "bogus"]),
        st.just({"type": "function", "function": {"name": "get_weather"}}),
        JSON,
    ),
    "parallel_tool_calls": st.booleans(),
    "response_format": st.one_of(
        st.sampled_from([{"type": "text"}, {"type": "json_object"}, {"type": "nope"}]),
        st.builds(
            lambda schema: {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
            st.one_of(st.just({"type": "object"}), JSON),
        ),
        JSON,
    ),
    "functions": JSON,
    "function_call": JSON,
}

COMPLETION_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    **SAMPLING,
    "prompt": st.one_of(TEXT, st.lists(TEXT, max_size=2), st.lists(NUMBER, max_size=4), JSON),
    "echo": st.one_of(st.booleans(), JSON),
    "logprobs": st.one_of(st.integers(-1, 7), NUMBER, JSON),
    "best_of": NUMBER,
    "suffix": TEXT,
}

EMBEDDING_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "input": st.one_of(TEXT, st.lists(TEXT, max_size=3), st.lists(NUMBER, max_size=3), JSON),
    "encoding_format": st.one_of(st.sampled_from(["float", "base64", "int8"]), JSON),
    "dimensions": NUMBER,
    "user": TEXT,
}

TOKENIZE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "prompt": TEXT,
    "messages": st.lists(MESSAGE, max_size=3),
    "add_special_tokens": st.one_of(st.booleans(), JSON),
    "add_generation_prompt": st.booleans(),
}

DETOKENIZE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "tokens": st.one_of(st.lists(NUMBER, max_size=5), JSON),
}


@dataclass(frozen=True)
class Route:
    path: str
    valid: dict[str, Any]
    fields: dict[str, st.SearchStrategy[Any]]
    schema: str | None
    """OpenAI schema of a 200 answer (``None``: not an OpenAI route)."""


def routes(model: str) -> list[Route]:
    return [
        Route(
            "/v1/chat/completions",
            {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3},
            CHAT_FIELDS,
            "CreateChatCompletionResponse",
        ),
        Route(
            "/v1/completions",
            {"model": model, "prompt": "Once upon a time", "max_tokens": 3},
            COMPLETION_FIELDS,
            "CreateCompletionResponse",
        ),
        Route("/v1/embeddings", {"model": model, "input": "hello"}, EMBEDDING_FIELDS, None),
        Route("/tokenize", {"model": model, "prompt": "hello"}, TOKENIZE_FIELDS, None),
        Route("/detokenize", {"model": model, "tokens": [1, 2]}, DETOKENIZE_FIELDS, None),
    ]


ROUTES = routes


@st.composite
def request_bodies(draw: st.DrawFn, route: Route) -> bytes:
    """A mutated request body for ``route``: mostly JSON objects, sometimes broken bytes."""
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return draw(st.binary(max_size=40))
    if kind == 1:
        return json.dumps(draw(JSON)).replace(f'"{_BIG}"', "1" + "0" * 5000).encode()
    body = dict(route.valid)
    names = sorted(route.fields)
    for name in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
        body[name] = draw(route.fields[name])
    for name in draw(st.lists(st.sampled_from(sorted(body)), max_size=1)):
        del body[name]
    if draw(st.booleans()):
        body[draw(TEXT)] = draw(JSON)
    if draw(st.integers(0, 9)) == 0:
        body["model"] = draw(st.one_of(TEXT, JSON))
    text = json.dumps(body, ensure_ascii=True)  # lone surrogates travel as \\ud800 escapes
    for stand_in, number in _SPLICE.items():
        text = text.replace(stand_in, number)
    if kind == 2:
        text = text[: draw(st.integers(0, len(text)))]
    return text.encode()


def check_answer(route: Route, status: int, content_type: str, body: bytes) -> None:
    """The property: no 5xx, OpenAI errors on 4xx, well-formed answers on 200."""
    assert status < 500, (status, body[:300])
    if status >= 400:
        error = json.loads(body)
        found = openai_errors(error, "ErrorResponse")
        assert not found, (status, found, body[:300])
        return
    assert status == 200, status
    if content_type.startswith("text/event-stream"):
        events = list(iter_sse_data(body.decode().splitlines()))
        assert events and events[-1] == "[DONE]", body[-200:]
        for event in events[:-1]:
            data = json.loads(event)
            if "error" in data:
                assert not openai_errors(data, "ErrorResponse"), data
            elif route.schema == "CreateChatCompletionResponse":
                found = openai_errors(data, "CreateChatCompletionStreamResponse")
                assert not found, (found, data)
        return
    data = json.loads(body)
    if route.schema is not None:
        found = openai_errors(data, route.schema)
        assert not found, (found, data)
