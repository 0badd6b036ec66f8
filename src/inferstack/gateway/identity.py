"""Who is calling an admin route: a :class:`Principal`, its role, and what that role may do.

Roles are LiteLLM's: ``proxy_admin`` (everything), ``proxy_admin_viewer`` (read everything),
``internal_user`` (own keys, own usage, the playground), ``internal_user_viewer`` (read own
usage only). Inside a team a member is ``admin`` (manages that team's members and keys, reads
its usage) or ``user``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from starlette.requests import Request

from inferstack.errors import PermissionDeniedError
from inferstack.gateway.key_types import KeyRecord

__all__ = [
    "MEMBER_ROLES",
    "ROLES",
    "Principal",
    "SessionLookup",
    "require_admin",
    "require_reader",
]

ROLES = ("proxy_admin", "proxy_admin_viewer", "internal_user", "internal_user_viewer")
MEMBER_ROLES = ("admin", "user")

Role = Literal["proxy_admin", "proxy_admin_viewer", "internal_user", "internal_user_viewer"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller of the admin API.

    ``kind`` is ``master`` (the master key), ``user`` (a user's key or console session) or
    ``key`` (a virtual key that belongs to no user: it may only read itself). ``teams`` maps
    each team the user belongs to onto the member role there.
    """

    kind: Literal["master", "user", "key"]
    role: str
    user_id: str | None = None
    teams: dict[str, str] = field(default_factory=dict)
    key: KeyRecord | None = None

    @classmethod
    def master(cls) -> Principal:
        return cls(kind="master", role="proxy_admin", key=KeyRecord(key_id=None, is_master=True))

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        if self.kind == "master":
            return "master"
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"key:{self.key.key_id if self.key else '?'}"

    @property
    def is_admin(self) -> bool:
        return self.role == "proxy_admin"

    @property
    def reads_all(self) -> bool:
        return self.role in ("proxy_admin", "proxy_admin_viewer")

    @property
    def team_ids(self) -> list[str]:
        return sorted(self.teams)

    @property
    def admin_team_ids(self) -> list[str]:
        return sorted(t for t, role in self.teams.items() if role == "admin")

    def manages_team(self, team_id: str | None) -> bool:
        """Admins manage every team; a team admin only their own."""
        return self.is_admin or (team_id is not None and self.teams.get(team_id) == "admin")

    def reads_team(self, team_id: str | None) -> bool:
        return self.reads_all or (team_id is not None and team_id in self.teams)

    def makes_keys(self) -> bool:
        """Whether this caller may create keys at all (viewers and bare keys may not)."""
        return self.is_admin or self.role == "internal_user" or bool(self.admin_team_ids)

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "user_id": self.user_id,
            "role": self.role,
            "team_ids": self.team_ids,
            "admin_team_ids": self.admin_team_ids,
            "key_id": self.key.key_id if self.key is not None else None,
        }


SessionLookup = Callable[[Request], Awaitable[Principal | None]]
"""The console's hook (``Gateway.sessions``): the principal of a request's session cookie, or
None when it carries none. It raises (401/403) for an expired session or a missing CSRF token."""


def require_admin(who: Principal) -> None:
    if not who.is_admin:
        raise PermissionDeniedError(f"this needs the proxy_admin role; you are {who.role}")


def require_reader(who: Principal) -> None:
    if not who.reads_all:
        raise PermissionDeniedError(
            f"this needs the proxy_admin or proxy_admin_viewer role; you are {who.role}"
        )
