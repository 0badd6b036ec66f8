"""Users, teams and members; keys owned by them; models added at run time; the audit log;
spend logs by team and user with keyset indexes; usage rollups.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ERRORS = sa.text("status_code >= 400")


def _tenants(tz: sa.DateTime) -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(255), unique=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("max_budget", sa.Float),
        sa.Column("spend", sa.Float, nullable=False),
        sa.Column("models", sa.JSON, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("updated_at", tz, nullable=False),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("alias", sa.String(255)),
        sa.Column("models", sa.JSON, nullable=False),
        sa.Column("max_budget", sa.Float),
        sa.Column("budget_period_s", sa.Integer),
        sa.Column("budget_reset_at", tz),
        sa.Column("spend", sa.Float, nullable=False),
        sa.Column("rpm_limit", sa.Integer),
        sa.Column("tpm_limit", sa.Integer),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("updated_at", tz, nullable=False),
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
    )
    op.create_index("ix_team_members_user_id", "team_members", ["user_id"])
    with op.batch_alter_table("virtual_keys") as batch:
        batch.add_column(sa.Column("user_id", sa.String(64)))
        batch.add_column(sa.Column("team_id", sa.String(64)))
    op.create_index("ix_virtual_keys_user_id", "virtual_keys", ["user_id"])
    op.create_index("ix_virtual_keys_team_id", "virtual_keys", ["team_id"])


def _admin(tz: sa.DateTime) -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", tz, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(255)),
        sa.Column("before", sa.JSON),
        sa.Column("after", sa.JSON),
    )
    op.create_table(
        "model_deployments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("model_name", sa.String(255), nullable=False),
        sa.Column("litellm_params", sa.JSON, nullable=False),
        sa.Column("model_info", sa.JSON, nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("updated_at", tz, nullable=False),
    )
    op.create_index("ix_model_deployments_model_name", "model_deployments", ["model_name"])


def _usage(tz: sa.DateTime) -> None:
    with op.batch_alter_table("spend_logs") as batch:
        batch.add_column(sa.Column("team_id", sa.String(64)))
        batch.add_column(sa.Column("user_id", sa.String(64)))
        batch.add_column(sa.Column("trace_id", sa.String(32)))
    for name, columns in (
        ("ix_spend_logs_created_id", ["created_at", "id"]),
        ("ix_spend_logs_key_created_id", ["key_id", "created_at", "id"]),
        ("ix_spend_logs_team_created_id", ["team_id", "created_at", "id"]),
        ("ix_spend_logs_user_created_id", ["user_id", "created_at", "id"]),
        ("ix_spend_logs_model_created_id", ["model_group", "created_at", "id"]),
    ):
        op.create_index(name, "spend_logs", columns)
    op.create_index(
        "ix_spend_logs_errors_created_id",
        "spend_logs",
        ["created_at", "id"],
        postgresql_where=_ERRORS,
        sqlite_where=_ERRORS,
    )
    op.create_table(
        "usage_rollups",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("granularity", sa.String(8), nullable=False),
        sa.Column("bucket", tz, nullable=False),
        sa.Column("dim", sa.String(8), nullable=False),
        sa.Column("group_id", sa.String(255), nullable=False),
        sa.Column("model_group", sa.String(255), nullable=False),
        sa.Column("team_id", sa.String(64)),
        sa.Column("user_id", sa.String(64)),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger, nullable=False),
        sa.Column("completion_tokens", sa.BigInteger, nullable=False),
        sa.Column("cost", sa.Float, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.UniqueConstraint(
            "granularity", "dim", "group_id", "model_group", "bucket", name="uq_usage_rollups"
        ),
    )
    op.create_index("ix_usage_rollups_scan", "usage_rollups", ["granularity", "dim", "bucket"])
    op.create_index(
        "ix_usage_rollups_team", "usage_rollups", ["granularity", "dim", "team_id", "bucket"]
    )
    op.create_index(
        "ix_usage_rollups_user", "usage_rollups", ["granularity", "dim", "user_id", "bucket"]
    )


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    _tenants(tz)
    _admin(tz)
    _usage(tz)


def downgrade() -> None:
    op.drop_table("usage_rollups")
    for name in (
        "ix_spend_logs_errors_created_id",
        "ix_spend_logs_model_created_id",
        "ix_spend_logs_user_created_id",
        "ix_spend_logs_team_created_id",
        "ix_spend_logs_key_created_id",
        "ix_spend_logs_created_id",
    ):
        op.drop_index(name, "spend_logs")
    with op.batch_alter_table("spend_logs") as batch:
        for column in ("trace_id", "user_id", "team_id"):
            batch.drop_column(column)
    op.drop_table("model_deployments")
    op.drop_table("audit_log")
    op.drop_index("ix_virtual_keys_team_id", "virtual_keys")
    op.drop_index("ix_virtual_keys_user_id", "virtual_keys")
    with op.batch_alter_table("virtual_keys") as batch:
        batch.drop_column("team_id")
        batch.drop_column("user_id")
    op.drop_table("team_members")
    op.drop_table("teams")
    op.drop_table("users")
