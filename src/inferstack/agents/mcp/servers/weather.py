"""The weather MCP server: current weather and a daily forecast for a city (Open-Meteo)."""

from __future__ import annotations

from typing import Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from inferstack.agents.settings import WeatherSettings
from inferstack.agents.weather.openmeteo import OpenMeteo
from inferstack.errors import InferstackError

__all__ = ["build_weather_server"]

LOOKUP = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=True)


def build_weather_server(settings: WeatherSettings) -> MCPServer:
    server = MCPServer("inferstack-weather", instructions="Weather for any city, from Open-Meteo.")

    @server.tool(annotations=LOOKUP)
    async def get_current_weather(
        city: str, unit: Literal["celsius", "fahrenheit"] = "celsius"
    ) -> dict:
        """Current temperature, humidity, wind and conditions in a city."""
        client = OpenMeteo(settings)
        try:
            return (await client.current(city, unit)).model_dump()
        except InferstackError as exc:
            raise ToolError(exc.message) from exc
        finally:
            await client.close()

    @server.tool(annotations=LOOKUP)
    async def get_forecast(
        city: str, days: int = 3, unit: Literal["celsius", "fahrenheit"] = "celsius"
    ) -> dict:
        """Daily forecast (highs, lows, precipitation, conditions) for 1 to 16 days."""
        client = OpenMeteo(settings)
        try:
            return (await client.forecast(city, days, unit)).model_dump()
        except InferstackError as exc:
            raise ToolError(exc.message) from exc
        finally:
            await client.close()

    return server
