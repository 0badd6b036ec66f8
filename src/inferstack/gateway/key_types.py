"""Wire types of the key admin API (``/key/*``) and the in-memory snapshot of a key."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ALL_TEAM_MODELS",
    "KeyDeleteRequest",
    "KeyGenerateRequest",
    "KeyInfo",
    "KeyRecord",
    "KeyUpdateRequest",
    "LimitScope",
    "model_allowed",
    "parse_duration",
]

ALL_TEAM_MODELS = "all-team-models"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | float | int | None) -> int | None:
    """Seconds in ``value``: a number of seconds or a string such as ``30s``, ``5m``, ``30d``."""
    if value is None:
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (use e.g. 3600, 30m, 1h, 30d)")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return int(seconds)


class _KeyFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alias: str | None = Field(default=None, max_length=255, description="Human-readable name")
    models: list[str] | None = Field(
        default=None, description="Model groups the key may use; empty means all"
    )
    duration: str | int | None = Field(
        default=None, description="Lifetime from now (e.g. 3600, 30m, 7d); none = no expiry"
    )
    max_budget: float | None = Field(default=None, ge=0, description="Spend cap in USD")
    budget_duration: str | int | None = Field(
        default=None, description="Budget period after which spend resets (e.g. 30d)"
    )
    rpm_limit: int | None = Field(default=None, gt=0, description="Requests per minute")
    tpm_limit: int | None = Field(default=None, gt=0, description="Tokens per minute")
    max_parallel_requests: int | None = Field(default=None, gt=0, description="Concurrent requests")
    metadata: dict[str, Any] | None = Field(default=None, description="Free-form labels")
    user_id: str | None = Field(default=None, description="The user who owns the key")
    team_id: str | None = Field(default=None, description="The team the key belongs to")

    @field_validator("duration", "budget_duration")
    @classmethod
    def _valid_duration(cls, value: str | int | None) -> str | int | None:
        parse_duration(value)
        return value


class KeyGenerateRequest(_KeyFields):
    """Body of ``POST /key/generate``."""


class KeyUpdateRequest(_KeyFields):
    """Body of ``POST /key/update``: only the fields sent are changed."""

    key_id: str | None = Field(default=None, description="Id of the key to change")
    key: str | None = Field(default=None, description="The key itself, instead of key_id")
    spend: float | None = Field(default=None, ge=0, description="Set the spend (e.g. reset to 0)")


class KeyDeleteRequest(BaseModel):
    """Body of ``POST /key/delete``: revoke keys by id or by the key itself."""

    model_config = ConfigDict(extra="forbid")

    key_ids: list[str] = Field(default_factory=list)
    keys: list[str] = Field(default_factory=list)


class KeyInfo(BaseModel):
    """What the admin API shows of a key; the secret itself never appears here."""

    key_id: str
    key_hint: str
    alias: str | None
    models: list[str]
    expires_at: datetime | None
    max_budget: float | None
    budget_duration_s: int | None
    budget_reset_at: datetime | None
    spend: float
    rpm_limit: int | None
    tpm_limit: int | None
    max_parallel_requests: int | None
    metadata: dict[str, Any]
    revoked: bool
    created_at: datetime
    user_id: str | None = None
    team_id: str | None = None


def model_allowed(
    model: str, allowed: list[str], access: Mapping[str, frozenset[str]] | None = None
) -> bool:
    """Whether ``allowed`` (empty: everything) names ``model`` or an access group holding it."""
    if not allowed or ALL_TEAM_MODELS in allowed or model in allowed:
        return True
    return access is not None and any(model in access.get(name, ()) for name in allowed)


@dataclass
class LimitScope:
    """Limits a key shares with other keys: its team's or its user's budget, RPM and TPM."""

    kind: str  # "team" | "user"
    id: str
    max_budget: float | None = None
    spend: float = 0.0
    budget_reset_at: datetime | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass
class KeyRecord:
    """The gateway's working copy of a virtual key (or the master key, ``is_master``)."""

    key_id: str | None
    is_master: bool = False
    models: list[str] = field(default_factory=list)
    expires_at: datetime | None = None
    max_budget: float | None = None
    budget_period_s: int | None = None
    budget_reset_at: datetime | None = None
    spend: float = 0.0
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_parallel_requests: int | None = None
    revoked: bool = False
    alias: str | None = None
    record_content: bool = False
    """Traces carry this key's prompts and completions (``metadata.record_content``)."""
    user_id: str | None = None
    team_id: str | None = None
    scopes: list[LimitScope] = field(default_factory=list)
    """The team's and the user's shared limits, enforced with the key's own."""
    model_sets: list[list[str]] = field(default_factory=list)
    """The team's and the user's allowed models: a model must be in every one (and the key's)."""
    access: Callable[[], Mapping[str, frozenset[str]]] | None = field(default=None, repr=False)
    """Model access groups (group name → model names), from the model registry."""

    def allows(self, model_group: str) -> bool:
        if self.is_master:
            return True
        access = self.access() if self.access is not None else None
        return all(
            model_allowed(model_group, allowed, access)
            for allowed in [self.models, *self.model_sets]
        )
