"""Settings of the web-search provider, one model nested in both the agents' and RAG's settings."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator

__all__ = ["API_KEY_ENV", "WebSearchSettings"]

API_KEY_ENV = "INFERSTACK_AGENTS_WEBSEARCH__API_KEY"
"""The one environment variable that holds the provider key: the agents read it as their nested
``websearch.api_key`` and RAG reads it too, so one key configures both."""


class WebSearchSettings(BaseModel):
    """A Tavily-compatible provider (``POST url`` with a Bearer key); off without a key."""

    url: str = Field(
        default="https://api.tavily.com/search",
        description="Search endpoint of a Tavily-compatible provider.",
    )
    api_key: SecretStr | None = Field(
        default=None, description="Provider key; without one the web-search server is absent."
    )
    timeout: float = Field(default=15.0, gt=0, description="Seconds per search request.")
    max_results: int = Field(default=5, ge=1, le=20, description="Results per search.")

    @field_validator("api_key")
    @classmethod
    def _blank_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty variable (a Secret key mounted empty) configures nothing rather than a key
        # the provider will refuse on every call.
        return value if value is not None and value.get_secret_value().strip() else None

    @property
    def enabled(self) -> bool:
        return self.api_key is not None
