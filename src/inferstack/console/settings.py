"""Typed settings of the web console (the ``console`` section of the gateway's YAML)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ConsoleSettings"]


class ConsoleSettings(BaseModel):
    """The console the gateway serves under ``/ui``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Serve the console under /ui")
    session_ttl_s: int = Field(
        default=8 * 3600,
        ge=60,
        le=30 * 86400,
        description="Lifetime of a console session (and of a key the playground mints for it)",
    )
    max_sessions: int = Field(
        default=10_000, ge=1, description="Sessions held per replica (in-memory store); oldest go"
    )
    login_failures_per_minute: int = Field(
        default=10,
        ge=1,
        description="Failed sign-ins allowed per client address per minute (429 beyond)",
    )
    trace_url_template: str | None = Field(
        default=None,
        description="Link from a request log to its trace when tracing is on, with {trace_id} "
        "(e.g. http://127.0.0.1:6006/redirects/traces/{trace_id})",
    )

    @field_validator("trace_url_template")
    @classmethod
    def _has_placeholder(cls, value: str | None) -> str | None:
        if value is not None and "{trace_id}" not in value:
            raise ValueError("trace_url_template must contain {trace_id}")
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("trace_url_template must be an http(s) URL")
        return value
