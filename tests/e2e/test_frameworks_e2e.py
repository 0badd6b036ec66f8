"""The agent frameworks people already use, unchanged, on the real gateway and default model:
function tools with tool_choice, structured output and streaming through each of them.

OpenAI Agents SDK, LangChain/LangGraph and pydantic-ai run in this process; instructor and
Strands Agents need an older openai than pydantic-ai, so ``make install`` gives them their own
small virtualenv (``.venv-compat``) and their scripts in ``frameworks/`` run there."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from pydantic import BaseModel, Field

from support.gateway import Gateway, start_gateway, stop_gateway, virtual_key
from support.servers import RunningServer

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
COMPAT_PYTHON = REPO / ".venv-compat" / "bin" / "python"
SCRIPTS = Path(__file__).resolve().parent / "frameworks"
CITY_SCHEMA_NOTE = "a city name, e.g. Paris"


class City(BaseModel):
    name: str = Field(min_length=1, max_length=40, description=CITY_SCHEMA_NOTE)
    country: str = Field(min_length=1, max_length=40)


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny and 21 C in {city}"


@pytest.fixture(scope="module")
def gateway(
    chat_server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    gw = start_gateway(
        tmp_path_factory.mktemp("gw"), chat_server.url, chat_server.model, None, timeout_s=600
    )
    yield gw
    stop_gateway(gw)


@pytest.fixture(scope="module")
def endpoint(gateway: Gateway) -> tuple[str, str]:
    return gateway.url + "/v1", virtual_key(gateway)


async def test_openai_agents_sdk(endpoint: tuple[str, str]) -> None:
    from agents import (
        Agent,
        ModelSettings,
        OpenAIChatCompletionsModel,
        Runner,
        function_tool,
        set_tracing_disabled,
    )

    set_tracing_disabled(True)  # nothing goes to a vendor
    url, key = endpoint
    client = openai.AsyncOpenAI(base_url=url, api_key=key, timeout=600, max_retries=0)
    model = OpenAIChatCompletionsModel(model="chat", openai_client=client)
    settings = ModelSettings(tool_choice="required", temperature=0, max_tokens=64)
    agent = Agent(
        name="weather",
        instructions="Use the tool.",
        tools=[function_tool(get_weather)],
        model=model,
        model_settings=settings,
        tool_use_behavior="stop_on_first_tool",
    )
    result = await Runner.run(agent, "What is the weather in Paris?", max_turns=2)
    assert str(result.final_output).startswith("sunny and 21 C in ")

    typed = Agent(
        name="extract",
        instructions="Extract the city.",
        model=model,
        model_settings=ModelSettings(temperature=0, max_tokens=64),
        output_type=City,
    )
    result = await Runner.run(typed, "I live in Lyon, France.", max_turns=1)
    assert isinstance(result.final_output, City)

    streamed = Runner.run_streamed(
        Agent(
            name="talk",
            instructions="Answer briefly.",
            model=model,
            model_settings=ModelSettings(temperature=0, max_tokens=16),
        ),
        "Say hello.",
        max_turns=1,
    )
    kinds = [event.type async for event in streamed.stream_events()]
    assert "raw_response_event" in kinds and isinstance(streamed.final_output, str)


def test_langchain_and_langgraph(endpoint: tuple[str, str]) -> None:
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode

    url, key = endpoint
    llm = ChatOpenAI(
        model="chat",
        base_url=url,
        api_key=key,
        temperature=0,
        max_tokens=64,
        timeout=600,
        max_retries=0,
    )
    weather = tool(get_weather)
    message = llm.bind_tools([weather], tool_choice="get_weather").invoke("Weather in Oslo?")
    assert message.tool_calls and message.tool_calls[0]["name"] == "get_weather"
    assert isinstance(message.tool_calls[0]["args"]["city"], str)

    city = llm.with_structured_output(City, method="json_schema").invoke("I live in Lyon, France.")
    assert isinstance(city, City)

    chunks = list(llm.stream("Say hello."))
    assert len(chunks) > 1 and "".join(str(c.content) for c in chunks)

    # A LangGraph graph: the model (forced to call the tool) then LangGraph's ToolNode.
    forced = llm.bind_tools([weather], tool_choice="get_weather")
    builder = StateGraph(MessagesState)
    builder.add_node("model", lambda state: {"messages": [forced.invoke(state["messages"])]})
    builder.add_node("tools", ToolNode([weather]))
    builder.add_edge(START, "model")
    builder.add_edge("model", "tools")
    builder.add_edge("tools", END)
    state = builder.compile().invoke({"messages": [("user", "Weather in Oslo?")]})
    tool_messages = [m for m in state["messages"] if m.type == "tool"]
    assert tool_messages and tool_messages[0].content.startswith("sunny and 21 C in ")


async def test_pydantic_ai(endpoint: tuple[str, str]) -> None:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    url, key = endpoint
    client = openai.AsyncOpenAI(base_url=url, api_key=key, timeout=600, max_retries=0)
    model = OpenAIChatModel("chat", provider=OpenAIProvider(openai_client=client))
    settings = {"temperature": 0, "max_tokens": 64}
    typed = Agent(model, output_type=City, instructions="Extract the city.")
    result = await typed.run("I live in Lyon, France.", model_settings=settings)
    assert isinstance(result.output, City)

    talk = Agent(model, instructions="Answer briefly.")
    async with talk.run_stream("Say hello.", model_settings=settings) as stream:
        parts = [text async for text in stream.stream_text(delta=True)]
    assert parts


@pytest.mark.parametrize("script", ["instructor_smoke.py", "strands_smoke.py"])
def test_frameworks_in_the_compat_env(endpoint: tuple[str, str], script: str) -> None:
    assert COMPAT_PYTHON.exists(), "make install creates .venv-compat"
    url, key = endpoint
    done = subprocess.run(
        [str(COMPAT_PYTHON), str(SCRIPTS / script), url, key],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"] is True, report
