"""Evaluation: datasets, regression runs, golden traces, gate and canary verdicts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("case_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_datasets_project_name_version", "datasets", ["project", "name", "version"], unique=True)
    op.create_table(
        "dataset_cases",
        sa.Column("dataset_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "case_id"),
    )
    op.create_table(
        "regression_runs",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("dataset_id", sa.String(length=32), nullable=True),
        sa.Column("dataset_name", sa.Text(), nullable=True),
        sa.Column("dataset_version", sa.String(length=16), nullable=True),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("summary", _json(), nullable=True),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_regression_runs_project_started", "regression_runs", ["project", "started_at"])
    op.create_table(
        "regression_results",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("workflow", sa.Text(), nullable=True),
        sa.Column("output", _json(), nullable=True),
        sa.Column("assertions", _json(), nullable=True),
        sa.Column("scores", _json(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "case_id"),
    )
    op.create_table(
        "goldens",
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("workflow", sa.Text(), nullable=True),
        sa.Column("trace_name", sa.Text(), nullable=True),
        sa.Column("template", sa.Text(), nullable=True),
        sa.Column("tolerances", _json(), nullable=True),
        sa.Column("metadata", _json(), nullable=True),
        sa.Column("snapshot", _json(), nullable=True),
        sa.Column("captured_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("project", "name"),
    )
    op.create_table(
        "release_verdicts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("percent", sa.Float(), nullable=True),
        sa.Column("verdict", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("baseline", _json(), nullable=True),
        sa.Column("candidate", _json(), nullable=True),
        sa.Column("metrics", _json(), nullable=True),
        sa.Column("reasons", _json(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_release_verdicts_project_at", "release_verdicts", ["project", "at"])
    op.create_index("ix_release_verdicts_name_at", "release_verdicts", ["name", "at"])
    op.create_index(
        "ix_traces_release_gate", "traces", ["release", "status", "duration_ms", "cost_usd", "quality_score"]
    )


def downgrade() -> None:
    op.drop_index("ix_traces_release_gate", table_name="traces")
    op.drop_index("ix_release_verdicts_name_at", table_name="release_verdicts")
    op.drop_index("ix_release_verdicts_project_at", table_name="release_verdicts")
    op.drop_table("release_verdicts")
    op.drop_table("goldens")
    op.drop_table("regression_results")
    op.drop_index("ix_regression_runs_project_started", table_name="regression_runs")
    op.drop_table("regression_runs")
    op.drop_table("dataset_cases")
    op.drop_index("ix_datasets_project_name_version", table_name="datasets")
    op.drop_table("datasets")


def _json() -> sa.types.TypeEngine:
    from sqlalchemy.dialects import postgresql

    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
