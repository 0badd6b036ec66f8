"""Storage of the gateway: SQLAlchemy 2 async tables, engine setup and Alembic migrations."""

from inferstack.gateway.db.engine import Database
from inferstack.gateway.db.tables import (
    AuditLog,
    Base,
    ModelDeployment,
    SpendLog,
    Team,
    TeamMember,
    UsageRollup,
    User,
    VirtualKey,
)

__all__ = [
    "AuditLog",
    "Base",
    "Database",
    "ModelDeployment",
    "SpendLog",
    "Team",
    "TeamMember",
    "UsageRollup",
    "User",
    "VirtualKey",
]
