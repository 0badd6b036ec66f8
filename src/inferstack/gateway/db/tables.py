"""The gateway's tables: virtual keys (stored hashed), users, teams, models added at run time,
the audit log, one spend log row per request and the usage rollups built from them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AuditLog",
    "Base",
    "ModelDeployment",
    "SpendLog",
    "Team",
    "TeamMember",
    "UTCDateTime",
    "UsageRollup",
    "User",
    "VirtualKey",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class VirtualKey(Base):
    """A virtual API key. Only the SHA-256 of the secret is stored, never the key itself."""

    __tablename__ = "virtual_keys"
    __table_args__ = (Index("ix_virtual_keys_created_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    key_hint: Mapped[str] = mapped_column(String(32))
    alias: Mapped[str | None] = mapped_column(String(255))
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    max_budget: Mapped[float | None] = mapped_column(Float)
    budget_period_s: Mapped[int | None] = mapped_column(Integer)
    budget_reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    spend: Mapped[float] = mapped_column(Float, default=0.0)
    rpm_limit: Mapped[int | None] = mapped_column(Integer)
    tpm_limit: Mapped[int | None] = mapped_column(Integer)
    max_parallel_requests: Mapped[int | None] = mapped_column(Integer)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_id: Mapped[str | None] = mapped_column(String(64), index=True)
    team_id: Mapped[str | None] = mapped_column(String(64), index=True)


class SpendLog(Base):
    """One proxied request: who, which model and deployment, tokens, timing, cost, outcome."""

    __tablename__ = "spend_logs"
    __table_args__ = (
        Index("ix_spend_logs_key_created", "key_id", "created_at"),
        Index("ix_spend_logs_model_created", "model_group", "created_at"),
        # Keyset pagination (newest first) by each filter the console offers.
        Index("ix_spend_logs_created_id", "created_at", "id"),
        Index("ix_spend_logs_key_created_id", "key_id", "created_at", "id"),
        Index("ix_spend_logs_team_created_id", "team_id", "created_at", "id"),
        Index("ix_spend_logs_user_created_id", "user_id", "created_at", "id"),
        Index("ix_spend_logs_model_created_id", "model_group", "created_at", "id"),
        Index(
            "ix_spend_logs_errors_created_id",
            "created_at",
            "id",
            postgresql_where=text("status_code >= 400"),
            sqlite_where=text("status_code >= 400"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    # Unique per usage entry: a replayed entry (see gateway.outbox) is recognised, not doubled.
    entry_id: Mapped[str | None] = mapped_column(String(32), unique=True, index=True)
    key_id: Mapped[str | None] = mapped_column(String(32))
    endpoint: Mapped[str] = mapped_column(String(64))
    model_group: Mapped[str] = mapped_column(String(255))
    deployment: Mapped[str | None] = mapped_column(String(255))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    status_code: Mapped[int] = mapped_column(Integer)
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    cache_hit: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    team_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64))
    trace_id: Mapped[str | None] = mapped_column(String(32))


class User(Base):
    """A person (or service) with a role; keys may belong to them, spend counts against them."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    max_budget: Mapped[float | None] = mapped_column(Float)
    spend: Mapped[float] = mapped_column(Float, default=0.0)
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Team(Base):
    """A team: shared budget and RPM/TPM over all its keys, allowed models, members."""

    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    alias: Mapped[str | None] = mapped_column(String(255))
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_budget: Mapped[float | None] = mapped_column(Float)
    budget_period_s: Mapped[int | None] = mapped_column(Integer)
    budget_reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    spend: Mapped[float] = mapped_column(Float, default=0.0)
    rpm_limit: Mapped[int | None] = mapped_column(Integer)
    tpm_limit: Mapped[int | None] = mapped_column(Integer)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TeamMember(Base):
    """A user's membership of a team, as team ``admin`` or ``user``."""

    __tablename__ = "team_members"

    team_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16))


class AuditLog(Base):
    """One admin action: who did what to which object, and the object before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(255))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ModelDeployment(Base):
    """A deployment added at run time (``/model/new``), served next to the YAML config's."""

    __tablename__ = "model_deployments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(255), index=True)
    litellm_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UsageRollup(Base):
    """Requests, tokens, cost and errors per time bucket, per key / team / user / model.

    ``dim`` is what ``group_id`` names (``key``, ``team``, ``user`` or ``model``); every row is
    also split by model, so a team's usage can be shown by model. Key rows carry the key's team
    and user, so a team admin or a user can be shown only their own keys.
    """

    __tablename__ = "usage_rollups"
    __table_args__ = (
        UniqueConstraint(
            "granularity", "dim", "group_id", "model_group", "bucket", name="uq_usage_rollups"
        ),
        Index("ix_usage_rollups_scan", "granularity", "dim", "model_group", "bucket"),
        Index("ix_usage_rollups_team", "granularity", "dim", "team_id", "bucket"),
        Index("ix_usage_rollups_user", "granularity", "dim", "user_id", "bucket"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    granularity: Mapped[str] = mapped_column(String(8))
    bucket: Mapped[datetime] = mapped_column(UTCDateTime())
    dim: Mapped[str] = mapped_column(String(8))
    group_id: Mapped[str] = mapped_column(String(255))
    model_group: Mapped[str] = mapped_column(String(255))
    team_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64))
    requests: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
