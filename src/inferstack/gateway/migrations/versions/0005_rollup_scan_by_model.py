"""The rollup scan index leads with the model too, so a ranking over every model reads only
the rows summed over all models (``model_group = '*'``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_usage_rollups_scan", "usage_rollups")
    op.create_index(
        "ix_usage_rollups_scan", "usage_rollups", ["granularity", "dim", "model_group", "bucket"]
    )


def downgrade() -> None:
    op.drop_index("ix_usage_rollups_scan", "usage_rollups")
    op.create_index("ix_usage_rollups_scan", "usage_rollups", ["granularity", "dim", "bucket"])
