"""Teams: a shared budget and RPM/TPM over their keys, allowed models, and members."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from inferstack.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from inferstack.gateway.audit import record_action
from inferstack.gateway.db import Database, Team, TeamMember, User, VirtualKey
from inferstack.gateway.db.tables import utcnow
from inferstack.gateway.identity import Principal, require_admin
from inferstack.gateway.key_types import parse_duration
from inferstack.gateway.keys import key_info
from inferstack.gateway.user_types import (
    Member,
    MemberAddRequest,
    MemberDeleteRequest,
    TeamNewRequest,
    TeamUpdateRequest,
)

__all__ = ["TeamService", "team_json"]


def team_json(row: Team, members: list[TeamMember]) -> dict[str, Any]:
    return {
        "team_id": row.id,
        "team_alias": row.alias,
        "models": list(row.models or []),
        "max_budget": row.max_budget,
        "budget_duration": row.budget_period_s,
        "budget_reset_at": row.budget_reset_at.isoformat() if row.budget_reset_at else None,
        "spend": row.spend,
        "rpm_limit": row.rpm_limit,
        "tpm_limit": row.tpm_limit,
        "members_with_roles": [{"user_id": m.user_id, "role": m.role} for m in members],
        "metadata": dict(row.metadata_ or {}),
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


async def _members(session: AsyncSession, team_ids: list[str]) -> dict[str, list[TeamMember]]:
    out: dict[str, list[TeamMember]] = {t: [] for t in team_ids}
    if team_ids:
        rows = await session.scalars(
            select(TeamMember)
            .where(TeamMember.team_id.in_(team_ids))
            .order_by(TeamMember.team_id, TeamMember.user_id)
        )
        for m in rows:
            out[m.team_id].append(m)
    return out


async def _check_users(session: AsyncSession, members: list[Member], param: str) -> None:
    ids = {m.user_id for m in members}
    if not ids:
        return
    found = set(await session.scalars(select(User.id).where(User.id.in_(ids))))
    missing = sorted(ids - found)
    if missing:
        raise NotFoundError(f"no such users: {missing}", param=param, code="user_not_found")


class TeamService:
    """``/team/*``; ``on_change`` is told when limits may have changed (the key cache drops)."""

    def __init__(self, db: Database, on_change: Callable[[], None] | None = None) -> None:
        self._db = db
        self._on_change = on_change or (lambda: None)

    async def _row(self, session: AsyncSession, team_id: str) -> Team:
        row = await session.get(Team, team_id)
        if row is None:
            raise NotFoundError(f"no team '{team_id}'", param="team_id", code="team_not_found")
        return row

    async def _json(self, session: AsyncSession, row: Team) -> dict[str, Any]:
        return team_json(row, (await _members(session, [row.id]))[row.id])

    async def new(self, spec: TeamNewRequest, who: Principal) -> dict[str, Any]:
        require_admin(who)
        now = utcnow()
        period = parse_duration(spec.budget_duration)
        row = Team(
            id=spec.team_id or "team_" + secrets.token_hex(8),
            alias=spec.team_alias,
            models=list(spec.models or []),
            max_budget=spec.max_budget,
            budget_period_s=period,
            budget_reset_at=now + timedelta(seconds=period) if period else None,
            spend=0.0,
            rpm_limit=spec.rpm_limit,
            tpm_limit=spec.tpm_limit,
            metadata_=dict(spec.metadata or {}),
            created_at=now,
            updated_at=now,
        )
        async with self._db.session() as session:
            await _check_users(session, spec.members_with_roles, "members_with_roles")
            session.add(row)
            members = [
                TeamMember(team_id=row.id, user_id=m.user_id, role=m.role)
                for m in {m.user_id: m for m in spec.members_with_roles}.values()
            ]
            session.add_all(members)
            out = team_json(row, members)
            record_action(session, who, "team.new", "team", row.id, after=out)
            try:
                await session.commit()
            except IntegrityError as exc:
                raise InvalidRequestError(
                    f"a team with id '{row.id}' already exists", param="team_id", code="team_exists"
                ) from exc
        return out

    async def info(self, team_id: str, who: Principal) -> dict[str, Any]:
        if not who.reads_team(team_id):
            raise PermissionDeniedError(f"you are not a member of team '{team_id}'")
        async with self._db.session() as session:
            row = await self._row(session, team_id)
            out = await self._json(session, row)
            keys = await session.scalars(
                select(VirtualKey)
                .where(VirtualKey.team_id == team_id, VirtualKey.revoked.is_(False))
                .order_by(VirtualKey.created_at)
                .limit(1000)
            )
            key_list = [key_info(k).model_dump(mode="json") for k in keys]
        return {"team_id": team_id, "team_info": out, "keys": key_list}

    async def update(self, change: TeamUpdateRequest, who: Principal) -> dict[str, Any]:
        require_admin(who)
        sent = change.model_fields_set
        async with self._db.session() as session:
            row = await self._row(session, change.team_id)
            before = await self._json(session, row)
            now = utcnow()
            if "team_alias" in sent:
                row.alias = change.team_alias
            for name in ("max_budget", "rpm_limit", "tpm_limit"):
                if name in sent:
                    setattr(row, name, getattr(change, name))
            if "models" in sent:
                row.models = list(change.models or [])
            if "metadata" in sent:
                row.metadata_ = dict(change.metadata or {})
            if "budget_duration" in sent:
                period = parse_duration(change.budget_duration)
                row.budget_period_s = period
                row.budget_reset_at = now + timedelta(seconds=period) if period else None
            row.updated_at = now
            after = await self._json(session, row)
            record_action(session, who, "team.update", "team", row.id, before=before, after=after)
            await session.commit()
        self._on_change()
        return after

    async def delete(self, team_ids: list[str], who: Principal) -> list[str]:
        """Delete teams and their memberships; their keys are revoked (history keeps them)."""
        require_admin(who)
        async with self._db.session() as session:
            for team_id in team_ids:
                row = await self._row(session, team_id)
                before = await self._json(session, row)
                record_action(session, who, "team.delete", "team", team_id, before=before)
                await session.delete(row)
            await session.execute(delete(TeamMember).where(TeamMember.team_id.in_(team_ids)))
            await session.execute(
                update(VirtualKey)
                .where(VirtualKey.team_id.in_(team_ids))
                .values(revoked=True, updated_at=utcnow())
            )
            await session.commit()
        self._on_change()
        return team_ids

    async def list(self, who: Principal) -> list[dict[str, Any]]:
        """Every team for readers of everything; a member's own teams otherwise."""
        query = select(Team).order_by(Team.created_at, Team.id)
        if not who.reads_all:
            query = query.where(Team.id.in_(who.team_ids))
        async with self._db.session() as session:
            rows = list(await session.scalars(query))
            members = await _members(session, [r.id for r in rows])
        return [team_json(r, members[r.id]) for r in rows]

    async def member_add(self, spec: MemberAddRequest, who: Principal) -> dict[str, Any]:
        if not who.manages_team(spec.team_id):
            raise PermissionDeniedError(f"you are not an admin of team '{spec.team_id}'")
        async with self._db.session() as session:
            row = await self._row(session, spec.team_id)
            await _check_users(session, [spec.member], "member.user_id")
            before = await self._json(session, row)
            await session.merge(
                TeamMember(team_id=row.id, user_id=spec.member.user_id, role=spec.member.role)
            )
            await session.flush()
            after = await self._json(session, row)
            record_action(
                session, who, "team.member_add", "team", row.id, before=before, after=after
            )
            await session.commit()
        self._on_change()
        return after

    async def member_delete(self, spec: MemberDeleteRequest, who: Principal) -> dict[str, Any]:
        if not who.manages_team(spec.team_id):
            raise PermissionDeniedError(f"you are not an admin of team '{spec.team_id}'")
        async with self._db.session() as session:
            row = await self._row(session, spec.team_id)
            before = await self._json(session, row)
            gone = await session.execute(
                delete(TeamMember).where(
                    TeamMember.team_id == row.id, TeamMember.user_id == spec.user_id
                )
            )
            if gone.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFoundError(
                    f"'{spec.user_id}' is not a member of team '{row.id}'", param="user_id"
                )
            after = await self._json(session, row)
            record_action(
                session, who, "team.member_delete", "team", row.id, before=before, after=after
            )
            await session.commit()
        self._on_change()
        return after
