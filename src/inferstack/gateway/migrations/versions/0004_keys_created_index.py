"""Keys listed a page at a time in creation order: an index on (created_at, id).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_virtual_keys_created_id", "virtual_keys", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_virtual_keys_created_id", "virtual_keys")
