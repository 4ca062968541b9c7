"""Spans: partial indexes over LLM calls (and unpriced calls) replace five full indexes no query used.

Spans are read by trace id (the primary key), except by cost reports, which read the LLM calls of
a time window. Keeping name/kind/model/status/project indexes on every span halved write throughput.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_OLD = {
    "ix_spans_name_started": ["name", "started_at"],
    "ix_spans_kind_started": ["kind", "started_at"],
    "ix_spans_model_started": ["model", "started_at"],
    "ix_spans_status": ["status"],
    "ix_spans_project_started": ["project", "started_at"],
}
_CALL = sa.text("cost_usd IS NOT NULL OR tokens_in IS NOT NULL OR tokens_out IS NOT NULL")
_UNPRICED = sa.text("cost_usd IS NULL AND (cost_usd IS NOT NULL OR tokens_in IS NOT NULL OR tokens_out IS NOT NULL)")


def upgrade() -> None:
    for name in _OLD:
        op.drop_index(name, table_name="spans")
    op.create_index("ix_spans_calls_started", "spans", ["started_at"], sqlite_where=_CALL, postgresql_where=_CALL)
    op.create_index(
        "ix_spans_calls_project_started", "spans", ["project", "started_at"], sqlite_where=_CALL, postgresql_where=_CALL
    )
    op.create_index(
        "ix_spans_unpriced_started", "spans", ["started_at"], sqlite_where=_UNPRICED, postgresql_where=_UNPRICED
    )


def downgrade() -> None:
    op.drop_index("ix_spans_unpriced_started", table_name="spans")
    op.drop_index("ix_spans_calls_project_started", table_name="spans")
    op.drop_index("ix_spans_calls_started", table_name="spans")
    for name, columns in _OLD.items():
        op.create_index(name, "spans", columns)
