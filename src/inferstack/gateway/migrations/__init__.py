"""Alembic migrations of the gateway database (applied by ``Database.migrate`` on start)."""
