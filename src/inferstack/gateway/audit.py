"""The audit log: every admin action, written in the same transaction as the change itself."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from inferstack.gateway.db import AuditLog, Database
from inferstack.gateway.db.tables import utcnow
from inferstack.gateway.identity import Principal
from inferstack.gateway.pagination import Page, decode_int_cursor, encode_cursor

__all__ = ["AuditTrail", "record_action"]


def _plain(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A JSON-safe copy (datetimes as ISO strings) of an object's state."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=str))  # type: ignore[no-any-return]


def record_action(
    session: AsyncSession,
    who: Principal,
    action: str,
    target_type: str,
    target_id: str | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append one action to the audit log in ``session`` (committed with the change)."""
    session.add(
        AuditLog(
            at=utcnow(),
            actor=who.actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=_plain(before),
            after=_plain(after),
        )
    )


def _json(row: AuditLog) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "actor": row.actor,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "before": row.before,
        "after": row.after,
    }


class AuditTrail:
    """Reads the audit log back, newest first, a page at a time."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(self, *, cursor: str | None, limit: int) -> Page:
        query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit + 1)
        if cursor is not None:
            query = query.where(AuditLog.id < decode_int_cursor(cursor))
        async with self._db.session() as session:
            rows = list(await session.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].id) if more and rows else None
        return Page(data=[_json(r) for r in rows], next_cursor=next_cursor)
