"""Who may create, read, change and revoke which virtual keys.

Admins: every key. Readers (``proxy_admin_viewer``): read every key. A team admin: the keys of
their teams. An internal user: their own keys (created for themselves, in teams they belong
to). A bare key: reads itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_
from sqlalchemy.ext.asyncio import AsyncSession

from inferstack.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from inferstack.gateway.db import Team, TeamMember, User, VirtualKey
from inferstack.gateway.identity import Principal
from inferstack.gateway.key_types import ALL_TEAM_MODELS, KeyGenerateRequest

__all__ = ["check_key", "check_models_within", "check_new_key", "owner_fields", "visible_keys"]


async def _is_member(session: AsyncSession, team_id: str, user_id: str) -> bool:
    row = await session.get(TeamMember, (team_id, user_id))
    return row is not None


async def _check_owner(session: AsyncSession, who: Principal, spec: KeyGenerateRequest) -> None:
    team_id, user_id = spec.team_id, spec.user_id
    if who.is_admin:
        return
    if team_id is not None and who.manages_team(team_id):
        if user_id is not None and not await _is_member(session, team_id, user_id):
            raise PermissionDeniedError(
                f"'{user_id}' is not a member of team '{team_id}'", param="user_id"
            )
        return
    if who.role != "internal_user" or who.user_id is None:
        raise PermissionDeniedError(f"your role ({who.role}) may not create keys")
    if user_id != who.user_id:
        raise PermissionDeniedError("you may only create keys for yourself", param="user_id")
    if team_id is not None and team_id not in who.teams:
        raise PermissionDeniedError(f"you are not a member of team '{team_id}'", param="team_id")


async def check_new_key(session: AsyncSession, who: Principal, spec: KeyGenerateRequest) -> None:
    """403 unless ``who`` may create this key; 404/400 for an unknown owner or a model outside
    the team's. An internal user's key is theirs when they name no owner."""
    if spec.user_id is None and spec.team_id is None and who.role == "internal_user":
        spec.user_id = who.user_id
    await _check_owner(session, who, spec)
    if spec.user_id is not None and await session.get(User, spec.user_id) is None:
        raise NotFoundError(f"no user '{spec.user_id}'", param="user_id", code="user_not_found")
    if spec.team_id is not None:
        team = await session.get(Team, spec.team_id)
        if team is None:
            raise NotFoundError(f"no team '{spec.team_id}'", param="team_id", code="team_not_found")
        check_models_within(spec.models or [], list(team.models or []), spec.team_id)


def check_models_within(models: list[str], team_models: list[str], team_id: str) -> None:
    """A team's key may only narrow the team's models (key ⊂ team)."""
    if not team_models:
        return
    outside = [m for m in models if m != ALL_TEAM_MODELS and m not in team_models]
    if outside:
        raise InvalidRequestError(
            f"team '{team_id}' may not use {outside}; its models are {team_models}",
            param="models",
        )


def check_key(who: Principal, row: VirtualKey, *, write: bool) -> None:
    """403 unless ``who`` may read (or, with ``write``, change or revoke) key ``row``."""
    if who.is_admin or (who.reads_all and not write):
        return
    if row.team_id is not None and who.manages_team(row.team_id):
        return
    own = who.user_id is not None and row.user_id == who.user_id
    if own and (not write or who.role == "internal_user"):
        return
    if not write and who.key is not None and who.key.key_id == row.id:
        return
    raise PermissionDeniedError(
        "you may not " + ("change" if write else "read") + f" key '{row.id}'", param="key_id"
    )


def visible_keys(who: Principal) -> ColumnElement[bool] | None:
    """The WHERE clause of the keys ``who`` may list (None: all of them)."""
    if who.reads_all:
        return None
    clauses: list[ColumnElement[bool]] = []
    if who.user_id is not None:
        clauses.append(VirtualKey.user_id == who.user_id)
    if who.admin_team_ids:
        clauses.append(VirtualKey.team_id.in_(who.admin_team_ids))
    if who.key is not None and who.key.key_id is not None:
        clauses.append(VirtualKey.id == who.key.key_id)
    return or_(*clauses) if clauses else false()


def owner_fields(change: Any, who: Principal) -> None:
    """Only admins move a key to another user or team."""
    sent = change.model_fields_set
    if ("team_id" in sent or "user_id" in sent) and not who.is_admin:
        raise PermissionDeniedError(
            "only a proxy_admin moves a key to another user or team",
            param="team_id" if "team_id" in sent else "user_id",
        )
