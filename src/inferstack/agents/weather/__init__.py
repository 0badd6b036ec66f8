"""Weather from Open-Meteo's geocoding and forecast APIs (or any server that speaks them)."""

from inferstack.agents.weather.openmeteo import CurrentWeather, DayForecast, OpenMeteo, Place

__all__ = ["CurrentWeather", "DayForecast", "OpenMeteo", "Place"]
