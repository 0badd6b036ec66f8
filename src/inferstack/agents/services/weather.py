"""Routes of the weather function-calling service: POST /chat, GET /weather/current,
GET /weather/forecast (``/health`` is the app's)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, model_validator

from inferstack.agents.services.http import read_json
from inferstack.agents.weather.chat import WeatherChat, WeatherReply
from inferstack.agents.weather.openmeteo import CurrentWeather, Forecast, OpenMeteo
from inferstack.errors import InvalidRequestError

__all__ = ["ChatRequest", "router"]

router = APIRouter()


class ChatRequest(BaseModel):
    """A message, or OpenAI-style messages (user/assistant turns)."""

    message: str | None = Field(default=None, min_length=1, max_length=4000)
    messages: list[dict[str, Any]] | None = Field(default=None, min_length=1, max_length=50)
    tool_choice: Literal["auto", "required", "none"] | str = "auto"

    @model_validator(mode="after")
    def one_of(self) -> ChatRequest:
        if (self.message is None) == (self.messages is None):
            raise ValueError("send either message or messages")
        return self

    def conversation(self) -> list[dict[str, Any]]:
        if self.message is not None:
            return [{"role": "user", "content": self.message}]
        assert self.messages is not None
        for i, m in enumerate(self.messages):
            if m.get("role") not in ("user", "assistant") or not isinstance(m.get("content"), str):
                raise InvalidRequestError(
                    "each message needs a role (user or assistant) and text content",
                    param=f"messages.{i}",
                )
        return self.messages


def _choice(value: str, names: list[str]) -> Any:
    if value in ("auto", "required", "none"):
        return value
    if value not in names:
        raise InvalidRequestError(
            f"tool_choice must be auto, required, none or one of {names}", param="tool_choice"
        )
    return {"type": "function", "function": {"name": value}}


@router.post("/chat", response_model=WeatherReply)
async def chat(request: Request) -> WeatherReply:
    weather: WeatherChat = request.app.state.weather_chat
    body = await read_json(request, ChatRequest, max_bytes=request.app.state.max_body_bytes)
    choice = _choice(body.tool_choice, list(weather.tools))
    return await weather.chat(body.conversation(), choice)


@router.get("/weather/current", response_model=CurrentWeather)
async def current(
    request: Request,
    city: str = Query(min_length=1, max_length=60),
    unit: Literal["celsius", "fahrenheit"] = "celsius",
) -> CurrentWeather:
    meteo: OpenMeteo = request.app.state.meteo
    return await meteo.current(city, unit)


@router.get("/weather/forecast", response_model=Forecast)
async def forecast(
    request: Request,
    city: str = Query(min_length=1, max_length=60),
    days: int = Query(default=3, ge=1, le=16),
    unit: Literal["celsius", "fahrenheit"] = "celsius",
) -> Forecast:
    meteo: OpenMeteo = request.app.state.meteo
    return await meteo.forecast(city, days, unit)
