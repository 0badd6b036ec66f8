"""A local server that speaks Open-Meteo's geocoding and forecast APIs (the subset the weather
tools use), with a fixed set of cities and deterministic weather, for tests without internet.

Like the real service it answers unknown names with no ``results`` key, validates its
parameters with a 400 ``{"error": true, "reason": ...}``, and converts units."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from support.servers import free_port

__all__ = ["CITIES", "expected_temperature", "open_meteo_server"]

CITIES = {
    "paris": {
        "name": "Paris",
        "latitude": 48.85341,
        "longitude": 2.3488,
        "country": "France",
        "timezone": "Europe/Paris",
    },
    "tokyo": {
        "name": "Tokyo",
        "latitude": 35.6895,
        "longitude": 139.69171,
        "country": "Japan",
        "timezone": "Asia/Tokyo",
    },
    "oslo": {
        "name": "Oslo",
        "latitude": 59.91273,
        "longitude": 10.74609,
        "country": "Norway",
        "timezone": "Europe/Oslo",
    },
    "lima": {
        "name": "Lima",
        "latitude": -12.04318,
        "longitude": -77.02824,
        "country": "Peru",
        "timezone": "America/Lima",
    },
}
CURRENT = {"temperature_2m", "relative_humidity_2m", "wind_speed_10m", "weather_code"}
DAILY = {"weather_code", "temperature_2m_max", "temperature_2m_min", "precipitation_sum"}


def expected_temperature(city: str, unit: str = "celsius") -> float:
    place = CITIES[city.lower()]
    celsius = round(place["latitude"] / 4 + place["longitude"] / 20, 1)
    return celsius if unit == "celsius" else round(celsius * 9 / 5 + 32, 1)


def _bad(reason: str) -> JSONResponse:
    return JSONResponse({"error": True, "reason": reason}, status_code=400)


def build_app() -> FastAPI:
    app = FastAPI()
    app.state.requests = []

    @app.get("/v1/search")
    async def search(request: Request) -> JSONResponse:
        app.state.requests.append(("search", dict(request.query_params)))
        name = request.query_params.get("name")
        if name is None:
            return _bad("Parameter 'name' is required")
        place = CITIES.get(name.strip().lower())
        body: dict = {"generationtime_ms": 0.5}
        if place:
            body["results"] = [{"id": 1, **place, "elevation": 10.0, "feature_code": "PPLC"}]
        return JSONResponse(body)

    @app.get("/v1/forecast")
    async def forecast(request: Request) -> JSONResponse:
        q = request.query_params
        app.state.requests.append(("forecast", dict(q)))
        try:
            lat, lon = float(q["latitude"]), float(q["longitude"])
        except (KeyError, ValueError):
            return _bad("Value of type 'Float' required for key 'latitude'.")
        unit = q.get("temperature_unit", "celsius")
        if unit not in ("celsius", "fahrenheit"):
            return _bad(f"Cannot initialize TemperatureUnit from invalid String value {unit}")
        place = next(
            (
                k
                for k, p in CITIES.items()
                if abs(p["latitude"] - lat) < 0.01 and abs(p["longitude"] - lon) < 0.01
            ),
            None,
        )
        if place is None:
            return _bad("No data for these coordinates in the stand-in")
        temp = expected_temperature(place, unit)
        body: dict = {"latitude": lat, "longitude": lon, "timezone": CITIES[place]["timezone"]}
        unit_sign = "°C" if unit == "celsius" else "°F"
        if "current" in q:
            fields = set(q["current"].split(","))
            if not fields <= CURRENT:
                bad = sorted(fields - CURRENT)[0]
                return _bad(f"Cannot initialize WeatherVariable from invalid String value {bad}")
            values = {
                "temperature_2m": temp,
                "relative_humidity_2m": 60,
                "wind_speed_10m": 12.5,
                "weather_code": 3,
            }
            body["current_units"] = {"temperature_2m": unit_sign}
            body["current"] = {
                "time": "2026-12-01T10:00",
                "interval": 900,
                **{k: values[k] for k in sorted(fields)},
            }
        if "daily" in q:
            fields = set(q["daily"].split(","))
            if not fields <= DAILY:
                return _bad("Cannot initialize WeatherVariable from invalid String value")
            days = int(q.get("forecast_days", 7))
            if not 0 <= days <= 16:
                return _bad("Forecast days is invalid. Allowed range 0 to 16.")
            start = date(2026, 12, 1)
            series = {
                "time": [(start + timedelta(days=i)).isoformat() for i in range(days)],
                "temperature_2m_max": [round(temp + 3 + i, 1) for i in range(days)],
                "temperature_2m_min": [round(temp - 3 + i, 1) for i in range(days)],
                "precipitation_sum": [round(0.5 * i, 1) for i in range(days)],
                "weather_code": [(0, 3, 61)[i % 3] for i in range(days)],
            }
            body["daily_units"] = {"temperature_2m_max": unit_sign}
            body["daily"] = {"time": series["time"], **{k: series[k] for k in sorted(fields)}}
        return JSONResponse(body)

    return app


@contextmanager
def open_meteo_server() -> Iterator[tuple[str, FastAPI]]:
    """Serve the stand-in on 127.0.0.1; yields its base URL (``…/v1``) and the app."""
    app = build_app()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()

    def wait() -> None:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the Open-Meteo stand-in did not start")
            started.wait(0.02)

    wait()
    try:
        yield f"http://127.0.0.1:{port}/v1", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)
