"""Feature flags and experiments: definitions with history, exposures.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flag_definitions",
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", _json(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("project", "kind", "name"),
    )
    op.create_table(
        "flag_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("spec", _json(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_flag_history_name_version", "flag_history", ["project", "kind", "name", "version"])
    op.create_table(
        "exposures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("experiment", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("variant", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_exposures_experiment_variant", "exposures", ["experiment", "variant"])
    op.create_index("ix_exposures_experiment_unit", "exposures", ["experiment", "unit_id"])
    op.create_index("ix_exposures_trace", "exposures", ["trace_id"])


def downgrade() -> None:
    op.drop_index("ix_exposures_trace", table_name="exposures")
    op.drop_index("ix_exposures_experiment_unit", table_name="exposures")
    op.drop_index("ix_exposures_experiment_variant", table_name="exposures")
    op.drop_table("exposures")
    op.drop_index("ix_flag_history_name_version", table_name="flag_history")
    op.drop_table("flag_history")
    op.drop_table("flag_definitions")


def _json() -> sa.types.TypeEngine:
    from sqlalchemy.dialects import postgresql

    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
