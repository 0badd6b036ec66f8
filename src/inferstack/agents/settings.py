"""Settings of the agents, their built-in MCP servers and services (env ``INFERSTACK_AGENTS_``,
nested fields with ``__``, e.g. ``INFERSTACK_AGENTS_WEBSEARCH__API_KEY``, the web-search key RAG
reads too; :class:`WebSearchSettings` lives in :mod:`inferstack.websearch`)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from inferstack.agents.runtime.limits import Limits
from inferstack.config import Settings, default_state_dir
from inferstack.websearch.settings import WebSearchSettings

__all__ = ["AgentSettings", "WeatherSettings", "WebSearchSettings"]


class WeatherSettings(BaseModel):
    geocoding_url: str = Field(
        default="https://geocoding-api.open-meteo.com/v1/search",
        description="Open-Meteo geocoding API (or a server that speaks it).",
    )
    forecast_url: str = Field(
        default="https://api.open-meteo.com/v1/forecast",
        description="Open-Meteo forecast API (or a server that speaks it).",
    )
    timeout: float = Field(default=10.0, gt=0, description="Seconds per HTTP request.")


def _default_db() -> str:
    return f"sqlite+aiosqlite:///{default_state_dir() / 'agents.db'}"


class AgentSettings(Settings):
    """The agent runtime and the agent services."""

    model_config = SettingsConfigDict(
        env_prefix="INFERSTACK_AGENTS_", env_nested_delimiter="__", extra="forbid"
    )

    base_url: str = Field(
        default="http://127.0.0.1:4000/v1",
        description="OpenAI-compatible URL of the gateway (or a model server) the agents use.",
    )
    api_key: SecretStr | None = Field(default=None, description="Key for base_url.")
    model: str = Field(default="gemma-3-270m", description="Chat model the agents call.")
    database_url: str = Field(
        default_factory=_default_db,
        description="SQLAlchemy async URL of the sessions database (SQLite or PostgreSQL).",
    )
    limits: Limits = Field(default_factory=Limits, description="Bounds of every run.")
    request_timeout: float = Field(default=120.0, gt=0, description="Seconds per model call.")
    temperature: float = Field(default=0.0, ge=0, le=2, description="Sampling temperature.")
    host: str = Field(default="127.0.0.1", description="Address the agent service binds.")
    port: int = Field(default=8300, ge=1, le=65535, description="Port of the agent service.")
    max_body_bytes: int = Field(default=1 << 20, description="Largest accepted request body.")
    rag_url: str | None = Field(
        default=None,
        description="The RAG service (inferstack rag serve) used as the knowledge base; "
        "without it the supervisor skips the knowledge check and /embed is absent.",
    )
    mcp_servers: list[str] = Field(
        default_factory=list,
        description="MCP servers whose tools the agent service uses: URLs (streamable HTTP), "
        "'builtin:NAME[:ROOT]', or commands (stdio).",
    )
    trusted_mcp: bool = Field(
        default=False, description="Run MCP tools without approval even when destructive."
    )
    weather: WeatherSettings = Field(
        default_factory=WeatherSettings, description="The weather tools' Open-Meteo APIs."
    )
    websearch: WebSearchSettings = Field(
        default_factory=WebSearchSettings, description="The web-search provider."
    )
