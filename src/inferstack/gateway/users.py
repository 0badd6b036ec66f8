"""Users: create, read, change, delete them; their passwords; who a user is (a Principal)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from inferstack.errors import InvalidRequestError, NotFoundError
from inferstack.gateway.audit import record_action
from inferstack.gateway.db import Database, Team, TeamMember, User, VirtualKey
from inferstack.gateway.db.tables import utcnow
from inferstack.gateway.identity import Principal, require_admin, require_reader
from inferstack.gateway.key_types import KeyRecord
from inferstack.gateway.pagination import Page, decode_cursor, encode_cursor
from inferstack.gateway.passwords import hash_password, verify_password
from inferstack.gateway.user_types import (
    UserNewRequest,
    UserRecord,
    UserUpdateRequest,
)

__all__ = ["UserService", "user_json"]


def user_json(row: User) -> dict[str, Any]:
    return {
        "user_id": row.id,
        "user_email": row.email,
        "user_role": row.role,
        "max_budget": row.max_budget,
        "spend": row.spend,
        "models": list(row.models or []),
        "metadata": dict(row.metadata_ or {}),
        "has_password": row.password_hash is not None,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


async def _teams_of(session: AsyncSession, user_id: str) -> dict[str, str]:
    rows = await session.execute(
        select(TeamMember.team_id, TeamMember.role).where(TeamMember.user_id == user_id)
    )
    return {team_id: role for team_id, role in rows}


class UserService:
    """``/user/*``; ``on_change`` is told when limits may have changed (the key cache drops)."""

    def __init__(self, db: Database, on_change: Callable[[], None] | None = None) -> None:
        self._db = db
        self._on_change = on_change or (lambda: None)

    async def _row(self, session: AsyncSession, user_id: str) -> User:
        row = await session.get(User, user_id)
        if row is None:
            raise NotFoundError(f"no user '{user_id}'", param="user_id", code="user_not_found")
        return row

    async def new(self, spec: UserNewRequest, who: Principal) -> dict[str, Any]:
        require_admin(who)
        now = utcnow()
        password = spec.password.get_secret_value() if spec.password is not None else None
        row = User(
            id=spec.user_id or "user_" + secrets.token_hex(8),
            email=spec.user_email,
            role=spec.user_role or "internal_user",
            password_hash=await asyncio.to_thread(hash_password, password) if password else None,
            max_budget=spec.max_budget,
            spend=0.0,
            models=list(spec.models or []),
            metadata_=dict(spec.metadata or {}),
            created_at=now,
            updated_at=now,
        )
        async with self._db.session() as session:
            for team_id in spec.teams or []:
                if await session.get(Team, team_id) is None:
                    raise NotFoundError(f"no team '{team_id}'", param="teams")
                session.add(TeamMember(team_id=team_id, user_id=row.id, role="user"))
            session.add(row)
            record_action(session, who, "user.new", "user", row.id, after=user_json(row))
            await self._commit(session, row)
        return user_json(row) | {"teams": list(spec.teams or [])}

    @staticmethod
    async def _commit(session: AsyncSession, row: User) -> None:
        try:
            await session.commit()
        except IntegrityError as exc:
            raise InvalidRequestError(
                f"a user with id '{row.id}' or e-mail '{row.email}' already exists",
                param="user_id",
                code="user_exists",
            ) from exc

    async def info(self, user_id: str | None, who: Principal) -> dict[str, Any]:
        user_id = user_id or who.user_id
        if user_id is None:
            raise InvalidRequestError("name a user with user_id", param="user_id")
        if user_id != who.user_id:
            require_reader(who)
        async with self._db.session() as session:
            row = await self._row(session, user_id)
            teams = await _teams_of(session, user_id)
            keys = list(
                await session.scalars(
                    select(VirtualKey.id)
                    .where(VirtualKey.user_id == user_id, VirtualKey.revoked.is_(False))
                    .order_by(VirtualKey.id)
                    .limit(1000)
                )
            )
        return {
            "user_id": user_id,
            "user_info": user_json(row),
            "teams": [{"team_id": t, "role": r} for t, r in sorted(teams.items())],
            "keys": keys,
        }

    async def update(self, change: UserUpdateRequest, who: Principal) -> dict[str, Any]:
        require_admin(who)
        sent = change.model_fields_set
        async with self._db.session() as session:
            row = await self._row(session, change.user_id)
            before = user_json(row)
            if "user_email" in sent:
                row.email = change.user_email
            if "user_role" in sent and change.user_role is not None:
                row.role = change.user_role
            if "max_budget" in sent:
                row.max_budget = change.max_budget
            if "models" in sent:
                row.models = list(change.models or [])
            if "metadata" in sent:
                row.metadata_ = dict(change.metadata or {})
            if "spend" in sent and change.spend is not None:
                row.spend = change.spend
            if "password" in sent:
                secret = change.password.get_secret_value() if change.password else None
                row.password_hash = (
                    await asyncio.to_thread(hash_password, secret) if secret else None
                )
            row.updated_at = utcnow()
            record_action(
                session, who, "user.update", "user", row.id, before=before, after=user_json(row)
            )
            await self._commit(session, row)
        self._on_change()
        return user_json(row)

    async def delete(self, user_ids: list[str], who: Principal) -> list[str]:
        """Delete users and their memberships; their keys are revoked (history keeps them)."""
        require_admin(who)
        async with self._db.session() as session:
            for user_id in user_ids:
                row = await self._row(session, user_id)
                record_action(session, who, "user.delete", "user", user_id, before=user_json(row))
                await session.delete(row)
            await session.execute(delete(TeamMember).where(TeamMember.user_id.in_(user_ids)))
            await session.execute(
                update(VirtualKey)
                .where(VirtualKey.user_id.in_(user_ids))
                .values(revoked=True, updated_at=utcnow())
            )
            await session.commit()
        self._on_change()
        return user_ids

    async def list(
        self, who: Principal, *, cursor: str | None, limit: int, role: str | None = None
    ) -> Page:
        """Users in id order, ``limit`` at a time (keyset on the primary key)."""
        require_reader(who)
        query = select(User).order_by(User.id).limit(limit + 1)
        if cursor is not None:
            last = decode_cursor(cursor)[0]
            query = query.where(User.id > str(last))
        if role is not None:
            query = query.where(User.role == role)
        async with self._db.session() as session:
            rows = list(await session.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            data=[user_json(r) for r in rows],
            next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
        )

    # -- identity ---------------------------------------------------------------------------

    async def record(self, user_id: str) -> UserRecord | None:
        async with self._db.session() as session:
            row = await session.get(User, user_id)
            if row is None:
                return None
            return UserRecord(
                user_id=row.id,
                user_email=row.email,
                user_role=row.role,
                max_budget=row.max_budget,
                spend=row.spend,
                models=list(row.models or []),
                teams=await _teams_of(session, row.id),
            )

    async def verify_password(self, login: str, password: str) -> UserRecord | None:
        """The user whose id or e-mail is ``login`` if ``password`` is theirs, else None.

        As slow for an unknown login as for a wrong password (scrypt runs either way).
        """
        async with self._db.session() as session:
            row = await session.scalar(
                select(User).where(or_(User.id == login, User.email == login))
            )
        stored = row.password_hash if row is not None else None
        if not await asyncio.to_thread(verify_password, password, stored) or row is None:
            return None
        return await self.record(row.id)

    async def principal_of_key(self, key: KeyRecord) -> Principal:
        """The caller behind a virtual key: its user (with the user's role), or the bare key."""
        if key.is_master:
            return Principal.master()
        if key.user_id is not None:
            user = await self.record(key.user_id)
            if user is not None:
                return Principal(
                    kind="user",
                    role=user.user_role,
                    user_id=user.user_id,
                    teams=user.teams,
                    key=key,
                )
        return Principal(kind="key", role="internal_user_viewer", key=key)

    async def principal_of_user(self, user_id: str) -> Principal | None:
        """A console session's principal (the user signed in by password)."""
        user = await self.record(user_id)
        if user is None:
            return None
        return Principal(kind="user", role=user.user_role, user_id=user.user_id, teams=user.teams)
