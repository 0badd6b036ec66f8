"""The Open-Meteo client against the local stand-in that speaks its API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inferstack.agents.settings import WeatherSettings
from inferstack.agents.weather import OpenMeteo
from inferstack.errors import InvalidRequestError, NotFoundError, UpstreamError
from support.open_meteo import expected_temperature, open_meteo_server
from support.servers import free_port


@pytest.fixture(scope="module")
def meteo_url() -> Iterator[str]:
    with open_meteo_server() as (url, _app):
        yield url


def settings(url: str) -> WeatherSettings:
    return WeatherSettings(geocoding_url=f"{url}/search", forecast_url=f"{url}/forecast", timeout=5)


async def test_current_weather(meteo_url: str) -> None:
    client = OpenMeteo(settings(meteo_url))
    now = await client.current("Paris")
    assert now.place.name == "Paris" and now.place.country == "France"
    assert now.temperature == expected_temperature("paris") and now.unit == "celsius"
    assert now.conditions == "overcast"
    hot = await client.current("paris", "fahrenheit")
    assert hot.temperature == expected_temperature("paris", "fahrenheit")
    await client.close()


async def test_forecast(meteo_url: str) -> None:
    client = OpenMeteo(settings(meteo_url))
    fc = await client.forecast("Oslo", days=3)
    assert [d.date for d in fc.days] == ["2026-12-01", "2026-12-02", "2026-12-03"]
    assert [d.conditions for d in fc.days] == ["clear sky", "overcast", "slight rain"]
    assert fc.days[0].temperature_max > fc.days[0].temperature_min
    with pytest.raises(InvalidRequestError):
        await client.forecast("Oslo", days=30)
    await client.close()


async def test_errors_are_typed(meteo_url: str) -> None:
    client = OpenMeteo(settings(meteo_url))
    with pytest.raises(NotFoundError):
        await client.current("Atlantis")
    with pytest.raises(InvalidRequestError):
        await client.current(" ")
    await client.close()
    dead = f"http://127.0.0.1:{free_port()}/v1"
    client = OpenMeteo(settings(dead))
    with pytest.raises(UpstreamError, match="unreachable"):
        await client.current("Paris")
    await client.close()
