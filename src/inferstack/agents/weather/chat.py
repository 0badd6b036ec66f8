"""Weather function calling on the ``tools`` API: the model picks a weather tool, we run it
against Open-Meteo, and the model answers from the result."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Literal

import openai
from opentelemetry.trace import NoOpTracer, Tracer
from pydantic import BaseModel, Field

from inferstack.agents.metrics import AgentMetrics, ToolOutcome
from inferstack.agents.runtime.events import CallRecord
from inferstack.agents.runtime.executor import execute_call
from inferstack.agents.tools import Tool, ToolError
from inferstack.agents.tracing import traced_completion
from inferstack.agents.weather.openmeteo import OpenMeteo
from inferstack.errors import InferstackError, UpstreamError

__all__ = ["WeatherCall", "WeatherChat", "WeatherReply", "weather_tools"]

SYSTEM = (
    "You answer questions about the weather. Call a weather tool for the city asked about, "
    "then answer in one short sentence from its result."
)
City = Annotated[str, Field(min_length=1, max_length=60, description="City name, e.g. Paris")]
TempUnit = Literal["celsius", "fahrenheit"]


def weather_tools(meteo: OpenMeteo) -> list[Tool]:
    async def get_current_weather(city: City, unit: TempUnit = "celsius") -> dict[str, Any]:
        """Current temperature, humidity, wind and conditions in a city."""
        try:
            return (await meteo.current(city, unit)).model_dump()
        except InferstackError as exc:
            raise ToolError(exc.message) from exc

    async def get_forecast(
        city: City, days: Annotated[int, Field(ge=1, le=16)] = 3, unit: TempUnit = "celsius"
    ) -> dict[str, Any]:
        """Daily forecast (highs, lows, precipitation, conditions) for the next days."""
        try:
            return (await meteo.forecast(city, days, unit)).model_dump()
        except InferstackError as exc:
            raise ToolError(exc.message) from exc

    return [Tool.from_function(get_current_weather), Tool.from_function(get_forecast)]


class WeatherCall(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any] | str
    result: Any = None
    output: str
    is_error: bool = False


class WeatherReply(BaseModel):
    answer: str
    tool_calls: list[WeatherCall]
    model: str
    usage: dict[str, int]


class WeatherChat:
    """One object per service, reused across requests."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        meteo: OpenMeteo,
        *,
        timeout: float = 30,
        metrics: AgentMetrics | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.client = client
        self.tracer = tracer or NoOpTracer()
        self.model = model
        self.tools = {t.name: t for t in weather_tools(meteo)}
        self.timeout = timeout
        self.metrics = metrics

    async def _complete(self, messages: list[dict[str, Any]], tool_choice: Any) -> Any:
        try:
            return await traced_completion(
                self.client,
                self.tracer,
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                tools=[t.openai_schema() for t in self.tools.values()],  # type: ignore[misc]
                tool_choice=tool_choice,
                temperature=0,
                max_tokens=128,
            )
        except openai.APIError as exc:
            raise UpstreamError(f"the model call failed: {exc}") from exc

    async def chat(self, messages: list[dict[str, Any]], tool_choice: Any = "auto") -> WeatherReply:
        convo = [{"role": "system", "content": SYSTEM}, *messages]
        first = await self._complete(convo, tool_choice)
        usage = _usage(first)
        message = first.choices[0].message
        calls = [
            CallRecord(id=c.id, name=c.function.name, arguments=c.function.arguments or "{}")
            for c in message.tool_calls or []
        ]
        if not calls:
            return WeatherReply(
                answer=message.content or "", tool_calls=[], model=self.model, usage=usage
            )
        convo.append(
            {
                "role": "assistant",
                "content": message.content,
                "tool_calls": [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for c in calls
                ],
            }
        )
        done: list[WeatherCall] = []
        for call in calls:
            started = time.monotonic()
            out = await execute_call(self.tools, call, self.timeout)
            if self.metrics is not None:
                outcome: ToolOutcome = "error" if out.is_error else "ok"
                took = time.monotonic() - started
                known = call.name in self.tools
                self.metrics.tool_call("weather", call.name, known, outcome, took)
            convo.append({"role": "tool", "tool_call_id": call.id, "content": out.text})
            done.append(
                WeatherCall(
                    id=call.id,
                    name=call.name,
                    arguments=_parsed(call.arguments),
                    result=out.data,
                    output=out.text,
                    is_error=out.is_error,
                )
            )
        second = await self._complete(convo, "none")
        for key, value in _usage(second).items():
            usage[key] = usage.get(key, 0) + value
        answer = second.choices[0].message.content or ""
        return WeatherReply(answer=answer, tool_calls=done, model=self.model, usage=usage)


def _parsed(arguments: str) -> dict[str, Any] | str:
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        return arguments
    return value if isinstance(value, dict) else arguments


def _usage(response: Any) -> dict[str, int]:
    u = response.usage
    if u is None:
        return {}
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
    }
