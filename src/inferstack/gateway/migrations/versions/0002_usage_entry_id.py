"""A unique id per usage entry, so an entry replayed from the outbox is never written twice.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("spend_logs") as batch:
        batch.add_column(sa.Column("entry_id", sa.String(32)))
    op.create_index("ix_spend_logs_entry_id", "spend_logs", ["entry_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_spend_logs_entry_id", "spend_logs")
    with op.batch_alter_table("spend_logs") as batch:
        batch.drop_column("entry_id")
