"""Drift results and richer feedback (scale, signals, sentiment).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scale", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("normalized", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("label", sa.Text(), nullable=True))
    # Ratings stored before 0009 were on 0..1: that is their scale and their normalised value.
    op.execute("UPDATE feedback SET scale = '0-1', normalized = rating WHERE rating IS NOT NULL")
    op.execute(
        "UPDATE feedback SET label = CASE WHEN normalized > 0.5 THEN 'positive' "
        "WHEN normalized < 0.5 THEN 'negative' ELSE 'neutral' END WHERE normalized IS NOT NULL"
    )
    op.create_table(
        "drift_results",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("check_id", sa.String(length=16), nullable=False),
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("segment_by", sa.Text(), nullable=True),
        sa.Column("segment", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        sa.Column("n_reference", sa.Integer(), nullable=False),
        sa.Column("n_current", sa.Integer(), nullable=False),
        sa.Column("reference", _json(), nullable=True),
        sa.Column("current", _json(), nullable=True),
        sa.Column("details", _json(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_drift_results_project_field_at", "drift_results", ["project", "field", "at"])
    op.create_index("ix_drift_results_check", "drift_results", ["check_id"])
    op.create_table(
        "drift_baselines",
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("segment_by", sa.Text(), server_default="", nullable=False),
        sa.Column("segment", sa.Text(), server_default="", nullable=False),
        sa.Column("categorical", sa.Boolean(), nullable=False),
        sa.Column("values", _json(), nullable=False),
        sa.Column("source", _json(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("project", "name", "field", "segment_by", "segment"),
    )


def downgrade() -> None:
    op.drop_table("drift_baselines")
    op.drop_index("ix_drift_results_check", table_name="drift_results")
    op.drop_index("ix_drift_results_project_field_at", table_name="drift_results")
    op.drop_table("drift_results")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_column("label")
        batch_op.drop_column("normalized")
        batch_op.drop_column("scale")


def _json() -> sa.types.TypeEngine:
    from sqlalchemy.dialects import postgresql

    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
