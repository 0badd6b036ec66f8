"""Tool calls and structured output on the real default model (Gemma 3 270M base)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import openai
import pytest

from support.servers import RunningServer, start_server, stop_server

pytestmark = pytest.mark.e2e

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "maxLength": 40},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city", "unit"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "create_event",
            "description": "Put a meeting in the calendar.",
            "parameters": {
                "type": "object",
                "properties": {
                    "title": {"type": "string", "maxLength": 40},
                    "attendees": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 3,
                        "items": {
                            "type": "object",
                            "properties": {"name": {"type": "string", "maxLength": 30}},
                            "required": ["name"],
                        },
                    },
                    "duration_minutes": {"type": "integer", "minimum": 15, "maximum": 240},
                },
                "required": ["title", "attendees", "duration_minutes"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "set_thermostat",
            "description": "Set the home thermostat.",
            "parameters": {
                "type": "object",
                "properties": {
                    "temperature": {"type": "number", "minimum": 10, "maximum": 30},
                    "mode": {"type": "string", "enum": ["heat", "cool", "auto"]},
                },
                "required": ["temperature", "mode"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search_products",
            "description": "Search the shop's catalogue.",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "maxLength": 40},
                    "filters": {
                        "type": "object",
                        "properties": {
                            "category": {
                                "type": "string",
                                "enum": ["books", "toys", "garden", "tools"],
                            },
                            "max_price": {
                                "type": "number",
                                "exclusiveMinimum": 0,
                                "maximum": 10000,
                            },
                            "in_stock": {"type": "boolean"},
                        },
                        "required": ["category", "in_stock"],
                    },
                    "limit": {"type": "integer", "minimum": 1, "maximum": 50},
                },
                "required": ["query", "filters"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "book_flight",
            "description": "Book a flight between two airports.",
            "parameters": {
                "type": "object",
                "properties": {
                    "origin": {"type": "string", "minLength": 3, "maxLength": 3},
                    "destination": {"type": "string", "minLength": 3, "maxLength": 3},
                    "passengers": {"type": "integer", "minimum": 1, "maximum": 9},
                    "cabin": {"type": "string", "enum": ["economy", "business", "first"]},
                    "return_date": {
                        "anyOf": [{"type": "string", "maxLength": 10}, {"type": "null"}]
                    },
                },
                "required": ["origin", "destination", "passengers", "cabin"],
            },
        },
    },
]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}

SUBJECTS = ["Paris", "Tokyo", "Lima", "Oslo", "Cairo", "Austin", "Seoul", "Perth", "Rome", "Quito"]
TEMPLATES = [
    "What's the weather like in {0} today?",
    "Schedule a 30 minute sync about {0} with Ana and Bo.",
    "Make it warmer at home, around 22 degrees, I'm back from {0}.",
    "Find garden tools under 50 dollars for my house near {0}.",
    "Book two economy seats from JFK to an airport near {0}.",
    "Is it raining in {0}? Use fahrenheit.",
    "Set up a project kickoff for the {0} office, one hour.",
    "Cool the house down to 18, it's as hot as {0} in here.",
    "Look for books about {0} that are in stock.",
    "I need a business class flight from LHR to {0} for one person.",
    "Tell me the temperature in {0} in celsius.",
    "Plan a lunch meeting with Chen about the {0} launch.",
    "Search toys for a child who loves {0}.",
    "Put the thermostat on auto at 21, we are flying to {0}.",
    "Fly three of us first class from SFO to {0}.",
    "Weather check for {0} please.",
    "Add a meeting: budget review for {0}, 45 minutes, with Dee.",
    "Any cheap tools in stock? Ship to {0}.",
    "Heat the flat to 24 before I land from {0}.",
    "Find a flight from CDG to {0} next week.",
]
PROMPTS = [t.format(s) for t, s in itertools.islice(itertools.product(TEMPLATES, SUBJECTS), 96)]


def _validate_call(name: str, arguments: str) -> None:
    assert name in SCHEMAS, name
    jsonschema.validate(json.loads(arguments), SCHEMAS[name])


def test_required_tool_calls_always_validate(
    chat_server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """96 varied prompts, 5 tool schemas, 16 requests at a time: every call validates."""

    async def one(client: openai.AsyncOpenAI, prompt: str, gate: asyncio.Semaphore) -> tuple:
        async with gate:
            r = await client.chat.completions.create(
                model=chat_server.model,
                messages=[{"role": "user", "content": prompt}],
                tools=TOOLS,
                tool_choice="required",
                max_tokens=120,
                temperature=0.7,
            )
        choice = r.choices[0]
        return choice.finish_reason, choice.message.tool_calls

    async def main() -> list[tuple]:
        gate = asyncio.Semaphore(16)
        async with openai.AsyncOpenAI(
            base_url=chat_server.base_url, api_key="x", timeout=900, max_retries=0
        ) as client:
            return await asyncio.gather(*(one(client, p, gate) for p in PROMPTS))

    results = asyncio.run(main())
    names: dict[str, int] = {}
    for finish, calls in results:
        assert finish in ("tool_calls", "length")
        assert calls
        for call in calls:
            _validate_call(call.function.name, call.function.arguments)
            names[call.function.name] = names.get(call.function.name, 0) + 1
    with capsys.disabled():
        print(
            f"\n[tools] {len(results)}/{len(PROMPTS)} required calls valid; tools chosen: {names}"
        )


PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 30},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "hobbies": {
            "type": "array",
            "items": {"type": "string", "maxLength": 20},
            "minItems": 1,
            "maxItems": 4,
        },
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string", "maxLength": 10}},
            "required": ["city"],
        },
    },
    "required": ["name", "age", "hobbies", "address"],
    "additionalProperties": False,
}


STORY = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 60},
        "story": {"type": "string"},
        "rating": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": ["title", "story", "rating"],
    "additionalProperties": False,
}


def _structured(client: openai.OpenAI, stream: bool, **kwargs: Any) -> tuple[str, str, Any]:
    """(content, finish_reason, usage), streamed or not."""
    if not stream:
        r = client.chat.completions.create(**kwargs)
        return r.choices[0].message.content or "", r.choices[0].finish_reason, r.usage
    chunks = list(
        client.chat.completions.create(
            stream=True, stream_options={"include_usage": True}, **kwargs
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = next(
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    )
    return text, finish, chunks[-1].usage


@pytest.mark.parametrize("stream", [False, True])
def test_json_schema_output_validates_even_when_cut_short(
    chat_server: RunningServer, stream: bool
) -> None:
    """Tight budgets cut the model off inside a string: the output still closes validly,
    within max_tokens, and says finish_reason "length"."""
    client = openai.OpenAI(base_url=chat_server.base_url, api_key="x", max_retries=0)
    finishes = []
    cases = [(PERSON, b, "Invent a person.") for b in (30, 40, 60, 120)]
    cases += [(STORY, b, "Write a long story about a dragon.") for b in (16, 24, 32, 48)]
    for i, (schema, budget, prompt) in enumerate(cases):
        fmt = {"type": "json_schema", "json_schema": {"name": "out", "schema": schema}}
        text, finish, usage = _structured(
            client,
            stream,
            model=chat_server.model,
            response_format=fmt,
            max_tokens=budget,
            temperature=0.8,
            seed=i,
            messages=[{"role": "user", "content": prompt}],
        )
        jsonschema.validate(json.loads(text), schema)
        assert usage is not None and usage.completion_tokens <= budget
        finishes.append(finish)
    assert "length" in finishes[4:]  # the story budgets really were cut short, and still valid


def test_json_object_mode(chat_server: RunningServer) -> None:
    client = openai.OpenAI(base_url=chat_server.base_url, api_key="x", max_retries=0)
    r = client.chat.completions.create(
        model=chat_server.model,
        response_format={"type": "json_object"},
        max_tokens=30,
        messages=[{"role": "user", "content": "Describe a cat as JSON."}],
    )
    assert isinstance(json.loads(r.choices[0].message.content or ""), dict)


def test_round_trip_call_result_answer(chat_server: RunningServer) -> None:
    client = openai.OpenAI(base_url=chat_server.base_url, api_key="x", max_retries=0)
    messages: list[Any] = [{"role": "user", "content": "What's the weather in Oslo?"}]
    first = client.chat.completions.create(
        model=chat_server.model,
        messages=messages,
        tools=TOOLS[:1],
        tool_choice="required",
        max_tokens=60,
        temperature=0,
    )
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    _validate_call(call.function.name, call.function.arguments)
    messages += [
        first.choices[0].message,
        {"role": "tool", "tool_call_id": call.id, "content": "4 degrees, snowing"},
    ]
    final = client.chat.completions.create(
        model=chat_server.model,
        messages=messages,
        tools=TOOLS[:1],
        tool_choice="none",
        max_tokens=30,
        temperature=0,
    )
    assert final.choices[0].message.tool_calls is None
    assert final.choices[0].message.content


@pytest.fixture(scope="module")
def solo_server() -> Iterator[RunningServer]:
    # One slot, so the second run's cache cells sit where the first run's did. On the shared
    # server, a prefix copied from another slot puts them elsewhere; the float sums then round
    # differently and a near tie (the copy bias evens out the words of the request) can flip.
    srv = start_server(
        "--model", "default", "--parallel", "1", "--ctx-size", "1024", "--threads", "1"
    )
    yield srv
    stop_server(srv)


def test_streamed_call_reassembles_to_the_non_streamed_call(solo_server: RunningServer) -> None:
    chat_server = solo_server
    client = openai.OpenAI(base_url=chat_server.base_url, api_key="x", max_retries=0)
    kwargs: dict[str, Any] = dict(
        model=chat_server.model,
        tools=TOOLS,
        max_tokens=100,
        temperature=0,  # greedy run alone is reproducible (tests/e2e/test_reproducible_e2e.py)
        tool_choice={"type": "function", "function": {"name": "create_event"}},
        messages=[{"role": "user", "content": "Meet Ana tomorrow about the budget."}],
    )
    whole = client.chat.completions.create(**kwargs).choices[0].message.tool_calls[0]
    name, arguments, finish = "", "", None
    for chunk in client.chat.completions.create(stream=True, **kwargs):
        delta = chunk.choices[0].delta
        for piece in delta.tool_calls or []:
            assert piece.index == 0
            name += piece.function.name or ""
            arguments += piece.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert (name, arguments) == (whole.function.name, whole.function.arguments)
    assert name == "create_event" and finish == "tool_calls"
    _validate_call(name, arguments)


def test_auto_may_answer_or_call(chat_server: RunningServer) -> None:
    client = openai.OpenAI(base_url=chat_server.base_url, api_key="x", max_retries=0)
    for prompt in ("What's the weather in Lima?", "Hello! How are you?"):
        message = (
            client.chat.completions.create(
                model=chat_server.model,
                tools=TOOLS,
                tool_choice="auto",
                max_tokens=60,
                temperature=0,
                messages=[{"role": "user", "content": prompt}],
            )
            .choices[0]
            .message
        )
        assert message.content or message.tool_calls
        for call in message.tool_calls or []:
            _validate_call(call.function.name, call.function.arguments)


def test_legacy_functions_api(chat_server: RunningServer) -> None:
    r = httpx.post(
        f"{chat_server.base_url}/chat/completions",
        timeout=120,
        json={
            "model": chat_server.model,
            "max_tokens": 60,
            "temperature": 0,
            "messages": [{"role": "user", "content": "Weather in Rome in celsius?"}],
            "functions": [TOOLS[0]["function"]],
            "function_call": {"name": "get_weather"},
        },
    )
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "function_call"
    assert "tool_calls" not in choice["message"]
    call = choice["message"]["function_call"]
    _validate_call(call["name"], call["arguments"])


BAD = [
    (
        "bad tool schema",
        {
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "f",
                        "parameters": {"type": "object", "properties": {"x": {"type": "strng"}}},
                    },
                }
            ],
            "tool_choice": "required",
        },
        "tools.0.function.parameters",
    ),
    (
        "unsupported keyword",
        {
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "f",
                        "parameters": {
                            "type": "object",
                            "properties": {"x": {"type": "array", "uniqueItems": True}},
                        },
                    },
                }
            ],
            "tool_choice": "required",
        },
        "tools.0.function.parameters",
    ),
    (
        "unknown named tool",
        {"tools": TOOLS[:1], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
        "tool_choice",
    ),
    (
        "unknown tool_call_id",
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "call_missing", "content": "x"},
            ]
        },
        "messages.1.tool_call_id",
    ),
    (
        "budget below the smallest valid value",
        {
            "max_tokens": 5,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "person", "schema": PERSON},
            },
        },
        "max_tokens",
    ),
    (
        "bad response schema",
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"type": "object", "required": "name"}},
            }
        },
        "response_format.json_schema.schema",
    ),
]


@pytest.mark.parametrize(("name", "patch", "param"), BAD, ids=[b[0] for b in BAD])
def test_bad_tool_input_is_a_400_naming_the_param(
    chat_server: RunningServer, name: str, patch: dict[str, Any], param: str
) -> None:
    body = {
        "model": chat_server.model,
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}],
        **patch,
    }
    r = httpx.post(f"{chat_server.base_url}/chat/completions", json=body, timeout=60)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param
