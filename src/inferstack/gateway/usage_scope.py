"""Which usage a caller may read: everything for readers, otherwise their own, their teams'."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from inferstack.errors import PermissionDeniedError
from inferstack.gateway.identity import Principal

__all__ = ["UsageFilters", "scoped"]


@dataclass(frozen=True)
class UsageFilters:
    key_id: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    model: str | None = None
    team_ids: tuple[str, ...] = field(default=())
    """Forced for a team admin asking for no team: only the teams they administer."""


def scoped(who: Principal, f: UsageFilters) -> UsageFilters:
    """``f`` narrowed to what ``who`` may read; 403 for a filter naming someone else's usage.

    A key that belongs to no user reads its own usage; a user reads their own (filters forced
    to their user id); a team admin also reads the teams they administer.
    """
    if who.reads_all:
        return f
    if who.user_id is None:  # a bare virtual key
        own = who.key.key_id if who.key is not None else None
        if f.key_id not in (None, own) or f.team_id is not None or f.user_id is not None:
            raise PermissionDeniedError("a key may only read its own usage", param="key_id")
        return replace(f, key_id=own)
    if f.team_id is not None:
        if f.team_id not in who.admin_team_ids:
            raise PermissionDeniedError(
                f"you do not administer team '{f.team_id}'", param="team_id"
            )
        return f
    if f.user_id is not None and f.user_id != who.user_id:
        raise PermissionDeniedError("you may only read your own usage", param="user_id")
    if f.user_id is None and who.admin_team_ids and f.key_id is None:
        return replace(f, team_ids=tuple(who.admin_team_ids))
    return replace(f, user_id=who.user_id)
