"""Virtual keys and spend logs.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "virtual_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("key_hint", sa.String(32), nullable=False),
        sa.Column("alias", sa.String(255)),
        sa.Column("models", sa.JSON, nullable=False),
        sa.Column("expires_at", tz),
        sa.Column("max_budget", sa.Float),
        sa.Column("budget_period_s", sa.Integer),
        sa.Column("budget_reset_at", tz),
        sa.Column("spend", sa.Float, nullable=False),
        sa.Column("rpm_limit", sa.Integer),
        sa.Column("tpm_limit", sa.Integer),
        sa.Column("max_parallel_requests", sa.Integer),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("updated_at", tz, nullable=False),
    )
    op.create_index("ix_virtual_keys_key_hash", "virtual_keys", ["key_hash"], unique=True)
    op.create_table(
        "spend_logs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(32)),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("model_group", sa.String(255), nullable=False),
        sa.Column("deployment", sa.String(255)),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("ttft_ms", sa.Float),
        sa.Column("cost", sa.Float, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("stream", sa.Boolean, nullable=False),
        sa.Column("cache_hit", sa.Boolean, nullable=False),
        sa.Column("created_at", tz, nullable=False),
    )
    op.create_index("ix_spend_logs_request_id", "spend_logs", ["request_id"])
    op.create_index("ix_spend_logs_key_created", "spend_logs", ["key_id", "created_at"])
    op.create_index("ix_spend_logs_model_created", "spend_logs", ["model_group", "created_at"])


def downgrade() -> None:
    op.drop_table("spend_logs")
    op.drop_table("virtual_keys")
