"""Monitoring: the unified alerts (state, dedup key, first/last seen, count); indexes for SLO checks.

Existing alerts keep their data: acknowledged ones become ``state = 'acknowledged'``, each gets
its own dedup key (``source:rule:id``), first seen = last seen = its time, count 1.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_OPEN = sa.text("state != 'resolved'")
_FAILED = sa.text("status = 'error'")


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.Text(), server_default="firing", nullable=False))
        batch_op.add_column(sa.Column("dedup_key", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("first_seen", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("first_seen_ns", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("count", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE alerts SET state = 'acknowledged' WHERE acknowledged = true"
        if op.get_bind().dialect.name == "postgresql"
        else "UPDATE alerts SET state = 'acknowledged' WHERE acknowledged = 1"
    )
    op.execute(
        "UPDATE alerts SET dedup_key = source || ':' || rule || ':' || id, first_seen = at, first_seen_ns = at_ns"
    )
    op.create_index("ix_alerts_state_at", "alerts", ["state", "at"])
    op.create_index("ix_spans_failed", "spans", ["trace_id"], sqlite_where=_FAILED, postgresql_where=_FAILED)
    op.create_index(
        "ix_traces_slo",
        "traces",
        ["status", "started_at", "project", "workflow", "start_ns", "duration_ms", "quality_score", "trace_id"],
    )
    op.create_index(
        "ix_alerts_open_key", "alerts", ["dedup_key"], unique=True, sqlite_where=_OPEN, postgresql_where=_OPEN
    )


def downgrade() -> None:
    op.drop_index("ix_traces_slo", table_name="traces")
    op.drop_index("ix_spans_failed", table_name="spans")
    op.drop_index("ix_alerts_open_key", table_name="alerts")
    op.drop_index("ix_alerts_state_at", table_name="alerts")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        for name in ("resolved_at", "count", "first_seen_ns", "first_seen", "dedup_key", "state"):
            batch_op.drop_column(name)
