"""Wire types of ``/user/*`` and ``/team/*`` (LiteLLM's field names)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from inferstack.gateway.key_types import parse_duration

__all__ = [
    "Member",
    "MemberAddRequest",
    "MemberDeleteRequest",
    "TeamDeleteRequest",
    "TeamNewRequest",
    "TeamUpdateRequest",
    "UserDeleteRequest",
    "UserNewRequest",
    "UserRecord",
    "UserUpdateRequest",
]

UserRole = Literal["proxy_admin", "proxy_admin_viewer", "internal_user", "internal_user_viewer"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _UserFields(_Body):
    user_email: str | None = Field(default=None, max_length=255, description="Login e-mail")
    user_role: UserRole | None = Field(default=None, description="The user's role")
    password: SecretStr | None = Field(
        default=None, min_length=8, description="Console password; stored as a scrypt hash"
    )
    max_budget: float | None = Field(default=None, ge=0, description="Spend cap in USD")
    models: list[str] | None = Field(default=None, description="Models the user may use")
    metadata: dict[str, Any] | None = Field(default=None, description="Free-form labels")


class UserNewRequest(_UserFields):
    """Body of ``POST /user/new``."""

    user_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$"
    )
    teams: list[str] | None = Field(default=None, description="Teams joined as a 'user' member")


class UserUpdateRequest(_UserFields):
    """Body of ``POST /user/update``: only the fields sent change."""

    user_id: str
    spend: float | None = Field(default=None, ge=0, description="Set the spend (e.g. reset to 0)")


class UserDeleteRequest(_Body):
    user_ids: list[str] = Field(min_length=1)


class Member(_Body):
    user_id: str
    role: Literal["admin", "user"] = "user"


class _TeamFields(_Body):
    team_alias: str | None = Field(default=None, max_length=255, description="Display name")
    models: list[str] | None = Field(default=None, description="Models (or access groups)")
    max_budget: float | None = Field(default=None, ge=0, description="Team spend cap in USD")
    budget_duration: str | int | None = Field(
        default=None, description="Budget period after which team spend resets (e.g. 30d)"
    )
    rpm_limit: int | None = Field(default=None, gt=0, description="Requests per minute, all keys")
    tpm_limit: int | None = Field(default=None, gt=0, description="Tokens per minute, all keys")
    metadata: dict[str, Any] | None = Field(default=None, description="Free-form labels")

    @field_validator("budget_duration")
    @classmethod
    def _valid_duration(cls, value: str | int | None) -> str | int | None:
        parse_duration(value)
        return value


class TeamNewRequest(_TeamFields):
    """Body of ``POST /team/new``."""

    team_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$"
    )
    members_with_roles: list[Member] = Field(default_factory=list)


class TeamUpdateRequest(_TeamFields):
    """Body of ``POST /team/update``: only the fields sent change."""

    team_id: str


class TeamDeleteRequest(_Body):
    team_ids: list[str] = Field(min_length=1)


class MemberAddRequest(_Body):
    team_id: str
    member: Member


class MemberDeleteRequest(_Body):
    team_id: str
    user_id: str


@dataclass
class UserRecord:
    """A user as the gateway works with it (never its password hash)."""

    user_id: str
    user_email: str | None
    user_role: str
    max_budget: float | None = None
    spend: float = 0.0
    models: list[str] = field(default_factory=list)
    teams: dict[str, str] = field(default_factory=dict)  # team id → member role
