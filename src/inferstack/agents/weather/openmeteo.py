"""A small async client of Open-Meteo: a city name to coordinates, then current weather or a
daily forecast. Every request has a timeout; failures are typed errors, never a fallback."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import BaseModel

from inferstack.agents.settings import WeatherSettings
from inferstack.errors import InvalidRequestError, NotFoundError, UpstreamError

__all__ = [
    "CurrentWeather",
    "DayForecast",
    "Forecast",
    "OpenMeteo",
    "Place",
    "Unit",
    "describe_code",
]

Unit = Literal["celsius", "fahrenheit"]

# WMO weather interpretation codes, as Open-Meteo documents them.
WMO_CODES = {
    0: "clear sky",
    1: "mainly clear",
    2: "partly cloudy",
    3: "overcast",
    45: "fog",
    48: "depositing rime fog",
    51: "light drizzle",
    53: "moderate drizzle",
    55: "dense drizzle",
    61: "slight rain",
    63: "moderate rain",
    65: "heavy rain",
    71: "slight snow",
    73: "moderate snow",
    75: "heavy snow",
    80: "slight rain showers",
    81: "moderate rain showers",
    82: "violent rain showers",
    95: "thunderstorm",
    96: "thunderstorm with slight hail",
    99: "thunderstorm with heavy hail",
}
CURRENT_FIELDS = "temperature_2m,relative_humidity_2m,wind_speed_10m,weather_code"
DAILY_FIELDS = "weather_code,temperature_2m_max,temperature_2m_min,precipitation_sum"


def describe_code(code: int | None) -> str:
    return WMO_CODES.get(code, f"weather code {code}") if code is not None else "unknown"


class Place(BaseModel):
    name: str
    country: str | None = None
    latitude: float
    longitude: float
    timezone: str | None = None


class CurrentWeather(BaseModel):
    place: Place
    time: str
    temperature: float
    unit: Unit
    humidity: float | None = None
    wind_speed: float | None = None
    conditions: str


class DayForecast(BaseModel):
    date: str
    temperature_max: float
    temperature_min: float
    precipitation: float | None = None
    conditions: str


class Forecast(BaseModel):
    place: Place
    unit: Unit
    days: list[DayForecast]


class OpenMeteo:
    """Client of the two APIs; pass ``http`` to share a connection pool."""

    def __init__(self, settings: WeatherSettings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.http = http or httpx.AsyncClient(timeout=settings.timeout)

    async def close(self) -> None:
        await self.http.aclose()

    async def _get(self, url: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            r = await self.http.get(url, params=params, timeout=self.settings.timeout)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"the weather service is unreachable: {exc}") from exc
        if r.status_code == 400:
            reason = r.json().get("reason", r.text) if r.content else ""
            raise InvalidRequestError(f"the weather service refused the request: {reason}")
        if r.status_code != 200:
            raise UpstreamError(f"the weather service answered {r.status_code}")
        data = r.json()
        if not isinstance(data, dict):
            raise UpstreamError("the weather service answered something that is not an object")
        return data

    async def geocode(self, city: str) -> Place:
        if not city.strip():
            raise InvalidRequestError("the city is empty", param="city")
        data = await self._get(
            self.settings.geocoding_url,
            {"name": city.strip(), "count": 1, "language": "en", "format": "json"},
        )
        results = data.get("results") or []
        if not results:
            raise NotFoundError(f"no place called {city!r}", param="city")
        return Place.model_validate(results[0])

    async def current(self, city: str, unit: Unit = "celsius") -> CurrentWeather:
        place = await self.geocode(city)
        data = await self._get(
            self.settings.forecast_url,
            {
                "latitude": place.latitude,
                "longitude": place.longitude,
                "current": CURRENT_FIELDS,
                "temperature_unit": unit,
                "timezone": "auto",
            },
        )
        now = data.get("current") or {}
        try:
            return CurrentWeather(
                place=place,
                time=now["time"],
                temperature=now["temperature_2m"],
                unit=unit,
                humidity=now.get("relative_humidity_2m"),
                wind_speed=now.get("wind_speed_10m"),
                conditions=describe_code(now.get("weather_code")),
            )
        except KeyError as exc:
            raise UpstreamError(f"the weather service left out {exc}") from exc

    async def forecast(self, city: str, days: int = 3, unit: Unit = "celsius") -> Forecast:
        if not 1 <= days <= 16:
            raise InvalidRequestError("days must be between 1 and 16", param="days")
        place = await self.geocode(city)
        data = await self._get(
            self.settings.forecast_url,
            {
                "latitude": place.latitude,
                "longitude": place.longitude,
                "daily": DAILY_FIELDS,
                "forecast_days": days,
                "temperature_unit": unit,
                "timezone": "auto",
            },
        )
        daily = data.get("daily") or {}
        try:
            out = [
                DayForecast(
                    date=daily["time"][i],
                    temperature_max=daily["temperature_2m_max"][i],
                    temperature_min=daily["temperature_2m_min"][i],
                    precipitation=(daily.get("precipitation_sum") or [None] * (i + 1))[i],
                    conditions=describe_code(daily["weather_code"][i]),
                )
                for i in range(len(daily["time"]))
            ]
        except (KeyError, IndexError) as exc:
            raise UpstreamError(f"the weather service sent an incomplete forecast: {exc}") from exc
        return Forecast(place=place, unit=unit, days=out)
