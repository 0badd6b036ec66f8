"""Storage of the gateway: SQLAlchemy 2 async tables, engine setup and Alembic migrations."""

from inferstack.gateway.db.engine import Database
from inferstack.gateway.db.tables import Base, SpendLog, VirtualKey

__all__ = ["Base", "Database", "SpendLog", "VirtualKey"]
