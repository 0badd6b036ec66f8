"""Tools from Python functions: schema from the signature, validation errors for the model."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel

from inferstack.agents.tools import Tool, ToolError, tool


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict:
    """Current weather for a city."""
    return {"city": city, "unit": unit, "temperature": 21}


def test_schema_comes_from_the_signature() -> None:
    t = Tool.from_function(get_weather)
    assert t.name == "get_weather"
    assert t.description == "Current weather for a city."
    assert t.parameters["required"] == ["city"]
    assert t.parameters["properties"]["city"] == {"type": "string"}
    assert t.parameters["properties"]["unit"]["enum"] == ["celsius", "fahrenheit"]
    assert t.parameters["additionalProperties"] is False
    assert t.openai_schema()["function"]["name"] == "get_weather"


async def test_call_validates_and_converts() -> None:
    t = Tool.from_function(get_weather)
    out = await t.call({"city": "Oslo"})
    assert out.data == {"city": "Oslo", "unit": "celsius", "temperature": 21}
    assert '"Oslo"' in out.text
    with pytest.raises(ToolError, match="unit"):
        await t.call({"city": "Oslo", "unit": "kelvin"})
    with pytest.raises(ToolError, match="city"):
        await t.call({})
    with pytest.raises(ToolError, match="colour"):
        await t.call({"city": "Oslo", "colour": "red"})


class Note(BaseModel):
    title: str
    words: int


async def test_async_functions_and_models() -> None:
    @tool(name="count", destructive=True)
    async def count_words(title: str, body: str) -> Note:
        return Note(title=title, words=len(body.split()))

    assert count_words.destructive
    out = await count_words.call({"title": "t", "body": "a b c"})
    assert out.data == {"title": "t", "words": 3}
    assert out.text == '{"title":"t","words":3}'


def test_var_args_are_refused() -> None:
    def bad(*names: str) -> str:
        return ""

    with pytest.raises(TypeError):
        Tool.from_function(bad)
