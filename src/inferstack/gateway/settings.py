"""Typed settings of the gateway: model groups, router, limits, cache, guardrail, storage.

A YAML file in the spirit of LiteLLM's ``model_list`` / ``router_settings`` loads into
:class:`GatewaySettings` (``GatewaySettings.from_sources("gateway.yaml")``)::

    model_groups:
      chat:
        deployments:
          - api_base: http://127.0.0.1:8001/v1
            model: gemma-3-270m          # the upstream's model name
            weight: 2
            rpm: 600
            input_cost_per_million: 0.0
            output_cost_per_million: 0.0
            cost_per_second: 0.0002      # self-hosted: price of deployment time
      chat-backup:
        deployments:
          - api_base: http://127.0.0.1:8002/v1
            model: gemma-3-270m
    router:
      strategy: least_outstanding      # weighted | least_outstanding | lowest_latency
      num_retries: 2
      fallbacks: {chat: [chat-backup]}
      timeout_s: 120
      cooldown_s: 30
    redis_url: redis://127.0.0.1:6379/0   # limits (and cache) shared across replicas

Environment variables use the prefix ``INFERSTACK_GATEWAY_`` (nested with ``__``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from inferstack.config import Settings, default_state_dir
from inferstack.console.settings import ConsoleSettings

__all__ = [
    "CacheSettings",
    "DeploymentConfig",
    "GatewaySettings",
    "GuardrailSettings",
    "HealthCheckSettings",
    "ModelGroupConfig",
    "OrgLimits",
    "RouterSettings",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeploymentConfig(_Strict):
    """One upstream OpenAI-compatible server that serves a model group."""

    api_base: str = Field(
        description="Base URL of the upstream's OpenAI API, e.g. http://h:8000/v1"
    )
    model: str | None = Field(
        default=None, description="Model name sent upstream; defaults to the group name"
    )
    name: str | None = Field(
        default=None, description="Deployment id in logs and metrics; defaults to group/index"
    )
    api_key: SecretStr | None = Field(
        default=None, description="Bearer token the gateway sends upstream (none by default)"
    )
    api_key_env: str | None = Field(
        default=None,
        description="Environment variable holding api_key (keeps the token out of the config "
        "file: the chart's internal token)",
    )
    weight: float = Field(default=1.0, gt=0, description="Share of traffic under weighted routing")
    rpm: int | None = Field(
        default=None, gt=0, description="Requests per minute this deployment takes"
    )
    tpm: int | None = Field(
        default=None, gt=0, description="Tokens per minute this deployment takes"
    )
    input_cost_per_million: float = Field(default=0.0, ge=0, description="USD per 1M prompt tokens")
    output_cost_per_million: float = Field(
        default=0.0, ge=0, description="USD per 1M completion tokens"
    )
    cost_per_second: float = Field(
        default=0.0, ge=0, description="USD per second of request time (self-hosted pricing)"
    )
    timeout_s: float | None = Field(
        default=None, gt=0, description="Per-request timeout; defaults to router.timeout_s"
    )

    def bearer_token(self) -> str | None:
        """The token sent upstream: ``api_key``, else the ``api_key_env`` variable (read when
        the gateway starts, so a config can be validated offline without the secret)."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_env is None:
            return None
        value = os.environ.get(self.api_key_env)
        if not value:
            raise ValueError(f"api_key_env: environment variable {self.api_key_env} is unset")
        return value


class ModelGroupConfig(_Strict):
    """A public model name and the deployments that serve it."""

    deployments: list[DeploymentConfig] = Field(min_length=1, description="Upstreams of the group")
    capabilities: list[str] | None = Field(
        None,
        description=(
            "What the group's model does (chat, completions, tools, json_schema, embeddings), "
            "listed in /v1/models so clients can pick a model that chats."
        ),
    )


class RouterSettings(_Strict):
    """How a request picks a deployment, and what happens when one fails."""

    strategy: Literal["weighted", "least_outstanding", "lowest_latency"] = Field(
        default="least_outstanding", description="Routing strategy inside a model group"
    )
    num_retries: int = Field(default=2, ge=0, description="Retries after the first attempt")
    retry_backoff_s: float = Field(
        default=0.1, ge=0, description="First retry delay; doubles each retry"
    )
    retry_backoff_max_s: float = Field(default=2.0, ge=0, description="Cap of one retry delay")
    timeout_s: float = Field(default=600.0, gt=0, description="Per-request upstream timeout")
    connect_timeout_s: float = Field(default=5.0, gt=0, description="Upstream connect timeout")
    allowed_fails: int = Field(
        default=3,
        ge=1,
        description="Consecutive upstream faults (connect errors, timeouts, 5xx that another "
        "deployment does not repeat for the same request) before a deployment cools down",
    )
    cooldown_s: float = Field(
        default=30.0,
        ge=0,
        description="How long a failing deployment rests; a healthy probe ends it sooner",
    )
    fallbacks: dict[str, list[str]] = Field(
        default_factory=dict, description="Model group → groups tried when it fails"
    )


class HealthCheckSettings(_Strict):
    """Active health checks: GET {api_base}{path} on every deployment."""

    enabled: bool = Field(default=True, description="Probe deployments in the background")
    interval_s: float = Field(default=15.0, gt=0, description="Seconds between probes")
    path: str = Field(default="/models", description="Path probed, relative to api_base")
    timeout_s: float = Field(default=5.0, gt=0, description="Probe timeout")


class CacheSettings(_Strict):
    """Exact-match response cache for deterministic requests (off by default)."""

    enabled: bool = Field(default=False, description="Cache deterministic responses")
    backend: Literal["memory", "redis"] = Field(default="memory", description="Where entries live")
    ttl_s: float = Field(default=300.0, gt=0, description="Entry lifetime")
    max_entries: int = Field(default=10_000, gt=0, description="Memory backend capacity (LRU)")
    max_bytes: int = Field(
        default=64 * 1024 * 1024, gt=0, description="Memory backend capacity in bytes (LRU)"
    )
    shared: bool = Field(
        default=False,
        description="Share entries across keys; by default each key only sees its own answers",
    )


class GuardrailSettings(_Strict):
    """PII guardrail: e-mail, phone, card and SSN patterns (off by default)."""

    enabled: bool = Field(default=False, description="Scan requests and/or responses for PII")
    mode: Literal["block", "redact"] = Field(default="block", description="Refuse or mask")
    on_input: bool = Field(default=True, description="Scan the request's text")
    on_output: bool = Field(default=False, description="Scan the response's text")
    entities: list[Literal["email", "phone", "card", "ssn"]] = Field(
        default_factory=lambda: ["email", "phone", "card", "ssn"],
        description="Which patterns to look for",
    )


class OrgLimits(_Strict):
    """Organisation defaults: ceilings on every virtual key (a key's own can only be tighter)."""

    max_budget: float | None = Field(default=None, ge=0, description="Spend cap of any key, USD")
    rpm_limit: int | None = Field(default=None, gt=0, description="Requests per minute per key")
    tpm_limit: int | None = Field(default=None, gt=0, description="Tokens per minute per key")
    max_parallel_requests: int | None = Field(
        default=None, gt=0, description="Concurrent requests per key"
    )


class GatewaySettings(Settings):
    """Everything the gateway needs; one YAML file or ``INFERSTACK_GATEWAY_*`` variables."""

    model_config = SettingsConfigDict(
        env_prefix="INFERSTACK_GATEWAY_", env_nested_delimiter="__", extra="forbid"
    )

    host: str = Field(default="127.0.0.1", description="Bind address")
    port: int = Field(default=4000, ge=0, le=65535, description="Bind port")
    state_dir: Path = Field(
        default_factory=default_state_dir, description="Where the key file and SQLite DB live"
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default sqlite+aiosqlite:///<state_dir>/gateway.db",
    )
    master_key: SecretStr | None = Field(
        default=None, description="Master key from a secret store; else the key file is used"
    )
    master_key_file: Path | None = Field(
        default=None, description="Master key file (mode 0600); default <state_dir>/master_key"
    )
    redis_url: str | None = Field(
        default=None, description="Redis for limits (and the cache) shared by replicas"
    )
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, gt=0, description="Largest request body accepted (413 above)"
    )
    key_cache_ttl_s: float = Field(
        default=2.0, ge=0, description="How long a replica trusts a looked-up virtual key"
    )
    usage_outbox_dir: Path | None = Field(
        default=None,
        description="Write-ahead log of usage not yet in the database (replayed on start); "
        "default <state_dir>/usage-outbox",
    )
    usage_batch_linger_s: float = Field(
        default=0.05,
        ge=0,
        le=5,
        description="How long the usage recorder waits after an entry for more to write in the "
        "same transaction (entries are in the outbox meanwhile); 0 writes each one at once",
    )
    shutdown_drain_s: float = Field(
        default=20.0,
        ge=0,
        description="On SIGTERM, how long to wait for queued usage to reach the database (the "
        "rest stays in the outbox); keep it under the pod's termination grace period",
    )
    unknown_key_cache_ttl_s: float = Field(
        default=5.0,
        ge=0,
        description="How long a replica remembers that a presented key does not exist (so a "
        "flood of made-up keys is not one database query each)",
    )
    default_output_tokens: int = Field(
        default=1024,
        gt=0,
        description="Output tokens reserved against TPM and budget for a request that sets no "
        "max_tokens (it is settled for what it really used)",
    )
    lease_ttl_s: float = Field(
        default=900.0,
        gt=0,
        description="Lifetime of a request's parallel-slot and budget lease: one whose release "
        "was lost (a replica killed) frees itself after this",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="CORS origins; none by default"
    )
    model_groups: dict[str, ModelGroupConfig] = Field(
        default_factory=dict, description="Public model name → deployments"
    )
    router: RouterSettings = Field(default_factory=RouterSettings)
    health_check: HealthCheckSettings = Field(default_factory=HealthCheckSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    guardrail: GuardrailSettings = Field(default_factory=GuardrailSettings)
    models_refresh_s: float = Field(
        default=10.0,
        gt=0,
        description="How often a replica re-reads the models added at run time (/model/new) "
        "by other replicas; its own changes apply at once",
    )
    usage_minute_rollups_h: float = Field(
        default=72.0,
        gt=0,
        description="How long per-minute usage rollups are kept (hour and day rollups and the "
        "request log stay); minute series and ranges' minute edges reach back this far",
    )
    org_limits: OrgLimits = Field(
        default_factory=OrgLimits, description="Limits every key is held to at most"
    )
    console: ConsoleSettings = Field(
        default_factory=ConsoleSettings, description="The web console under /ui"
    )

    @model_validator(mode="after")
    def _check_fallbacks(self) -> GatewaySettings:
        for group, targets in self.router.fallbacks.items():
            unknown = [t for t in [group, *targets] if t not in self.model_groups]
            if unknown:
                raise ValueError(f"router.fallbacks names unknown model groups: {unknown}")
        if self.cache.enabled and self.cache.backend == "redis" and not self.redis_url:
            raise ValueError("cache.backend 'redis' needs redis_url")
        return self

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the state directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.state_dir / 'gateway.db'}"

    def resolved_usage_outbox_dir(self) -> Path:
        """The usage outbox directory, defaulting to ``<state_dir>/usage-outbox``."""
        return self.usage_outbox_dir or self.state_dir / "usage-outbox"

    def resolved_master_key_file(self) -> Path:
        """The master-key file, defaulting to ``<state_dir>/master_key``."""
        return self.master_key_file or self.state_dir / "master_key"
