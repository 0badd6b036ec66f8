"""Strands Agents (the reference solution's framework) on an OpenAI-compatible URL: a tool
call, structured output and streaming. Prints one JSON line; exits non-zero on any failure."""

import asyncio
import json
import sys

from pydantic import BaseModel, Field
from strands import Agent
from strands.models.openai import OpenAIModel


class City(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    country: str = Field(min_length=1, max_length=40)


def model(url: str, key: str, **params) -> OpenAIModel:
    return OpenAIModel(
        client_args={"base_url": url, "api_key": key, "timeout": 600, "max_retries": 0},
        model_id="chat",
        params={"temperature": 0, "max_tokens": 64, **params},
    )


async def main(url: str, key: str) -> None:
    # Strands' loop has no step cap of its own, so the model-driven call here is structured
    # output: Strands forces a call of its output tool (tool_choice names it).
    events = [
        e
        async for e in Agent(model=model(url, key), callback_handler=None).stream_async(
            "Say hello."
        )
    ]
    assert any("data" in e for e in events), "no text streamed"
    city = Agent(model=model(url, key), callback_handler=None).structured_output(
        City, "I live in Lyon, France."
    )
    assert isinstance(city, City)
    print(json.dumps({"ok": True, "city": city.model_dump(), "stream_events": len(events)}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
