"""SLO checks: a span index by run and stage name; the runs' SLO index also covers environment, release, service.

A stage latency SLO read every span of the window's runs to find the stage's (a row lookup per span);
``ix_spans_trace_name`` (trace id, span id, name, duration) finds each run's stage span in the index
alone. It leads with the primary key so that a run's spans are written to one leaf page and a read by
trace id sees them in the same order whichever index it takes. A ratio SLO (or any SLO
scoped by ``filters``) on environment, release or service read each run's row; ``ix_traces_slo`` now
holds those columns too, so it stays an index-only read.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 13:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_SLO_OLD = ["status", "started_at", "project", "workflow", "start_ns", "duration_ms", "quality_score", "trace_id"]
_SLO_NEW = [
    "status",
    "started_at",
    "project",
    "workflow",
    "environment",
    "release",
    "service",
    "start_ns",
    "duration_ms",
    "quality_score",
    "trace_id",
]


def upgrade() -> None:
    op.drop_index("ix_traces_slo", table_name="traces")
    op.create_index("ix_traces_slo", "traces", _SLO_NEW)
    op.create_index("ix_spans_trace_name", "spans", ["trace_id", "span_id", "name", "duration_ms"])


def downgrade() -> None:
    op.drop_index("ix_spans_trace_name", table_name="spans")
    op.drop_index("ix_traces_slo", table_name="traces")
    op.create_index("ix_traces_slo", "traces", _SLO_OLD)
