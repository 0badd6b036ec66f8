"""The agent service's handler: queries through the supervisor, resumes, health and status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
from pydantic import BaseModel

from inferstack.agents.db import AgentDatabase
from inferstack.agents.runtime import Agent, FinalEvent
from inferstack.agents.settings import AgentSettings
from inferstack.agents.supervisor import (
    QueryReply,
    RouteEvent,
    Supervisor,
    SupervisorMode,
    reply_from_final,
)

__all__ = ["AgentService", "QueryReply"]


class AgentService:
    def __init__(
        self,
        settings: AgentSettings,
        db: AgentDatabase,
        agent: Agent,
        supervisor: Supervisor,
        *,
        mcp_servers: list[str],
    ) -> None:
        self.settings = settings
        self.db = db
        self.agent = agent
        self.supervisor = supervisor
        self.mcp_servers = mcp_servers

    def query(
        self, question: str, session_id: str | None, mode: SupervisorMode = "auto"
    ) -> AsyncIterator[BaseModel]:
        return self.supervisor.stream(question, session_id, mode)

    async def resume(self, run_id: str, approvals: dict[str, bool]) -> AsyncIterator[BaseModel]:
        route = [RouteEvent(step="resume", decision="tool_agent", detail={"run_id": run_id})]
        async for event in self.agent.resume(run_id, approvals):
            yield reply_from_final(event, route) if isinstance(event, FinalEvent) else event

    async def healthy(self) -> bool:
        return await self.db.ping()

    async def _model_reachable(self) -> bool:
        try:
            models = await self.agent.client.models.list()
        except openai.APIError:
            return False
        return any(m.id == self.agent.model for m in models.data)

    async def status(self) -> dict[str, Any]:
        return {
            "model": self.agent.model,
            "base_url": self.settings.base_url,
            "model_available": await self._model_reachable(),
            "database": {"dialect": self.db.dialect, "reachable": await self.db.ping()},
            "sessions": await self.agent.store.sessions() if await self.db.ping() else None,
            "tools": sorted(self.agent.tools),
            "mcp_servers": self.mcp_servers,
            "knowledge_base": self.settings.rag_url
            or (None if self.supervisor.retriever is None else "in process"),
            "limits": self.agent.limits.model_dump(),
        }
