"""Composite indexes for filtered run lists (workflow or project with status, newest first).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 20:55:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_traces_workflow_status_started", "traces", ["workflow", "status", "started_at"])
    op.create_index("ix_traces_project_status_started", "traces", ["project", "status", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_traces_project_status_started", table_name="traces")
    op.drop_index("ix_traces_workflow_status_started", table_name="traces")
