"""Sessions and runs in the database: every message is written before the next step starts.

That ordering is what makes a pause durable: a run that stops (approval needed, a crash, a
restart) can be resumed from the table alone, and a tool whose result is recorded is never
called again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update

from inferstack.agents.db import AgentDatabase, MessageRow, RunRow, SessionRow, utcnow

__all__ = ["RunState", "SessionStore"]


@dataclass
class RunState:
    id: str
    session_id: str
    status: str
    steps: int = 0
    tokens: int = 0
    pending: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def _state(row: RunRow) -> RunState:
    return RunState(
        id=row.id,
        session_id=row.session_id,
        status=row.status,
        steps=row.steps,
        tokens=row.tokens,
        pending=list(row.pending or []),
        error=row.error,
    )


class SessionStore:
    """Conversation memory and run state of the agents, on :class:`AgentDatabase`."""

    def __init__(self, db: AgentDatabase) -> None:
        self.db = db

    async def start_run(self, session_id: str | None) -> RunState:
        """A new run in ``session_id`` (created when new, or a fresh id when None)."""
        sid = session_id or uuid.uuid4().hex
        run = RunState(id="run_" + uuid.uuid4().hex[:24], session_id=sid, status="running")
        async with self.db.session() as s, s.begin():
            if await s.get(SessionRow, sid) is None:
                s.add(SessionRow(id=sid))
                # NOTE: no ORM relationship orders the inserts, and PostgreSQL checks the
                # foreign key at once: the session row must exist before its run.
                await s.flush()
            s.add(RunRow(id=run.id, session_id=sid, status="running", pending=[]))
        return run

    async def history(self, session_id: str) -> list[dict[str, Any]]:
        """Every message of the session, oldest first."""
        async with self.db.session() as s:
            rows = await s.scalars(
                select(MessageRow)
                .where(MessageRow.session_id == session_id)
                .order_by(MessageRow.seq, MessageRow.id)
            )
            return [dict(r.message) for r in rows]

    async def append(self, run: RunState, message: dict[str, Any]) -> None:
        """Record one message of ``run`` (committed before this returns)."""
        async with self.db.session() as s, s.begin():
            last = await s.scalar(
                select(func.max(MessageRow.seq)).where(MessageRow.session_id == run.session_id)
            )
            seq = 0 if last is None else last + 1
            s.add(MessageRow(session_id=run.session_id, run_id=run.id, seq=seq, message=message))

    async def save(self, run: RunState) -> None:
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(RunRow)
                .where(RunRow.id == run.id)
                .values(
                    status=run.status,
                    steps=run.steps,
                    tokens=run.tokens,
                    pending=run.pending,
                    error=run.error,
                    updated_at=utcnow(),
                )
            )

    async def get_run(self, run_id: str) -> RunState | None:
        async with self.db.session() as s:
            row = await s.get(RunRow, run_id)
            return None if row is None else _state(row)

    async def claim_paused(self, run_id: str) -> RunState | None:
        """Move a paused run back to running, atomically: only one resume wins."""
        async with self.db.session() as s, s.begin():
            result = await s.execute(
                update(RunRow)
                .where(RunRow.id == run_id, RunRow.status == "paused")
                .values(status="running", updated_at=utcnow())
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = await s.get(RunRow, run_id)
            assert row is not None
            await s.refresh(row)
            return _state(row)

    async def sessions(self) -> int:
        async with self.db.session() as s:
            return int(await s.scalar(select(func.count()).select_from(SessionRow)) or 0)
