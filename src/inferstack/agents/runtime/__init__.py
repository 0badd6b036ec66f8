"""The agent runtime: the loop, its limits, events, and the session store."""

from inferstack.agents.runtime.events import (
    AgentEvent,
    CallRecord,
    FinalEvent,
    ModelTurnEvent,
    ToolResultEvent,
)
from inferstack.agents.runtime.limits import Limits
from inferstack.agents.runtime.loop import Agent, Approver
from inferstack.agents.runtime.store import RunState, SessionStore

__all__ = [
    "Agent",
    "AgentEvent",
    "Approver",
    "CallRecord",
    "FinalEvent",
    "Limits",
    "ModelTurnEvent",
    "RunState",
    "SessionStore",
    "ToolResultEvent",
]
