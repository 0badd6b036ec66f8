"""A key row as the admin API shows it (:func:`key_info`) and as the proxy path works with it
(:func:`key_record`: the key's limits under the org's ceilings, with its team's and user's)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from inferstack.gateway.db import Team, User, VirtualKey
from inferstack.gateway.db.tables import utcnow
from inferstack.gateway.key_types import KeyInfo, KeyRecord, LimitScope
from inferstack.gateway.settings import OrgLimits

__all__ = ["add_scopes", "key_info", "key_record"]

_N = TypeVar("_N", int, float)


def key_info(row: VirtualKey) -> KeyInfo:
    """What the admin API shows of a key row."""
    return KeyInfo(
        key_id=row.id,
        key_hint=row.key_hint,
        alias=row.alias,
        models=list(row.models or []),
        expires_at=row.expires_at,
        max_budget=row.max_budget,
        budget_duration_s=row.budget_period_s,
        budget_reset_at=row.budget_reset_at,
        spend=row.spend,
        rpm_limit=row.rpm_limit,
        tpm_limit=row.tpm_limit,
        max_parallel_requests=row.max_parallel_requests,
        metadata=dict(row.metadata_ or {}),
        revoked=row.revoked,
        created_at=row.created_at,
        user_id=row.user_id,
        team_id=row.team_id,
    )


def _tightest(*limits: _N | None) -> _N | None:
    given = [limit for limit in limits if limit is not None]
    return min(given) if given else None


def key_record(row: VirtualKey, org: OrgLimits) -> KeyRecord:
    return KeyRecord(
        key_id=row.id,
        models=list(row.models or []),
        expires_at=row.expires_at,
        max_budget=_tightest(row.max_budget, org.max_budget),
        budget_period_s=row.budget_period_s,
        budget_reset_at=row.budget_reset_at,
        spend=row.spend,
        rpm_limit=_tightest(row.rpm_limit, org.rpm_limit),
        tpm_limit=_tightest(row.tpm_limit, org.tpm_limit),
        max_parallel_requests=_tightest(row.max_parallel_requests, org.max_parallel_requests),
        revoked=row.revoked,
        alias=row.alias,
        record_content=(row.metadata_ or {}).get("record_content") is True,
        user_id=row.user_id,
        team_id=row.team_id,
    )


async def _reset_team(session: AsyncSession, team: Team, now: datetime) -> None:
    if team.budget_period_s and team.budget_reset_at and team.budget_reset_at <= now:
        # Guarded by the old reset time, so replicas racing here reset only once.
        await session.execute(
            update(Team)
            .where(Team.id == team.id, Team.budget_reset_at == team.budget_reset_at)
            .values(spend=0.0, budget_reset_at=now + timedelta(seconds=team.budget_period_s))
        )
        await session.commit()
        await session.refresh(team)


async def add_scopes(session: AsyncSession, row: VirtualKey, record: KeyRecord) -> None:
    """The key's team and user limits and allowed models, on ``record``."""
    if row.team_id is not None:
        team = await session.get(Team, row.team_id)
        if team is not None:
            await _reset_team(session, team, utcnow())
            record.scopes.append(
                LimitScope(
                    kind="team",
                    id=team.id,
                    max_budget=team.max_budget,
                    spend=team.spend,
                    budget_reset_at=team.budget_reset_at,
                    rpm_limit=team.rpm_limit,
                    tpm_limit=team.tpm_limit,
                )
            )
            record.model_sets.append(list(team.models or []))
    if row.user_id is not None:
        user = await session.get(User, row.user_id)
        if user is not None:
            record.scopes.append(
                LimitScope(kind="user", id=user.id, max_budget=user.max_budget, spend=user.spend)
            )
            record.model_sets.append(list(user.models or []))
