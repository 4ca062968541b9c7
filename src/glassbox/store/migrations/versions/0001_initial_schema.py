"""Initial schema: traces, spans, decisions, events, scores, feedback, alerts.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 03:57:58.322634
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("project", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("dims", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=True),
        sa.Column("at_ns", sa.BigInteger(), nullable=True),
        sa.Column("acknowledged", sa.Boolean(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_project_at", ["project", "at"], unique=False)
        batch_op.create_index("ix_alerts_source_rule", ["source", "rule"], unique=False)
        batch_op.create_index("ix_alerts_trace", ["trace_id"], unique=False)

    op.create_table(
        "decisions",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("stage", sa.Text(), nullable=True),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("why", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column(
            "alternatives", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column(
            "inputs", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("at", sa.DateTime(), nullable=True),
        sa.Column("at_ns", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("trace_id", "id"),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index("ix_decisions_stage", ["stage"], unique=False)
        batch_op.create_index("ix_decisions_what", ["what"], unique=False)

    op.create_table(
        "events",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("at", sa.DateTime(), nullable=True),
        sa.Column("at_ns", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("trace_id", "id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_name", ["name"], unique=False)

    op.create_table(
        "feedback",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("signal", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("sentiment", sa.Float(), nullable=True),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=True),
        sa.Column("at_ns", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("trace_id", "id"),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_at", ["at"], unique=False)

    op.create_table(
        "scores",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("max", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column(
            "dimensions", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=True),
        sa.Column("at_ns", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("trace_id", "id"),
    )
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.create_index("ix_scores_name_at", ["name", "at"], unique=False)

    op.create_table(
        "spans",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.String(length=16), nullable=True),
        sa.Column("project", sa.Text(), nullable=True),
        sa.Column("service", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("start_ns", sa.BigInteger(), nullable=False),
        sa.Column("end_ns", sa.BigInteger(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("error_type", sa.Text(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_stack", sa.Text(), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("tokens_in", sa.BigInteger(), nullable=True),
        sa.Column("tokens_out", sa.BigInteger(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("peak_gpu_mem_bytes", sa.BigInteger(), nullable=True),
        sa.Column("model_loads", sa.Integer(), nullable=True),
        sa.Column(
            "attributes", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column(
            "input", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column(
            "output", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.PrimaryKeyConstraint("trace_id", "span_id"),
    )
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.create_index("ix_spans_kind_started", ["kind", "started_at"], unique=False)
        batch_op.create_index("ix_spans_model_started", ["model", "started_at"], unique=False)
        batch_op.create_index("ix_spans_name_started", ["name", "started_at"], unique=False)
        batch_op.create_index("ix_spans_project_started", ["project", "started_at"], unique=False)
        batch_op.create_index("ix_spans_status", ["status"], unique=False)

    op.create_table(
        "traces",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("project", sa.Text(), server_default="default", nullable=False),
        sa.Column("service", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column(
            "input", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column(
            "output", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("workflow", sa.Text(), nullable=True),
        sa.Column("intent", sa.Text(), nullable=True),
        sa.Column("domain", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("session_id", sa.Text(), nullable=True),
        sa.Column("environment", sa.Text(), nullable=True),
        sa.Column("release", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column(
            "error", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("start_ns", sa.BigInteger(), nullable=True),
        sa.Column("end_ns", sa.BigInteger(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("tokens_in", sa.BigInteger(), nullable=True),
        sa.Column("tokens_out", sa.BigInteger(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("cost_source", sa.Text(), nullable=True),
        sa.Column("quality_score", sa.Float(), nullable=True),
        sa.Column("gate_passed", sa.Boolean(), nullable=True),
        sa.Column("experiment", sa.Text(), nullable=True),
        sa.Column("variant", sa.Text(), nullable=True),
        sa.Column("flagged_for_review", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("review_notes", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True),
        sa.Column(
            "metadata", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("root_span_id", sa.String(length=16), nullable=True),
        sa.Column("parent_span_id", sa.String(length=16), nullable=True),
        sa.Column("schema_version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("trace_id"),
    )
    with op.batch_alter_table("traces", schema=None) as batch_op:
        batch_op.create_index("ix_traces_domain", ["domain"], unique=False)
        batch_op.create_index("ix_traces_flagged", ["flagged_for_review"], unique=False)
        batch_op.create_index("ix_traces_intent", ["intent"], unique=False)
        batch_op.create_index("ix_traces_project_started", ["project", "started_at"], unique=False)
        batch_op.create_index("ix_traces_quality", ["quality_score"], unique=False)
        batch_op.create_index("ix_traces_session", ["session_id"], unique=False)
        batch_op.create_index("ix_traces_started", ["started_at"], unique=False)
        batch_op.create_index("ix_traces_status_started", ["status", "started_at"], unique=False)
        batch_op.create_index("ix_traces_user", ["user_id"], unique=False)
        batch_op.create_index("ix_traces_workflow_started", ["workflow", "started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("traces", schema=None) as batch_op:
        batch_op.drop_index("ix_traces_workflow_started")
        batch_op.drop_index("ix_traces_user")
        batch_op.drop_index("ix_traces_status_started")
        batch_op.drop_index("ix_traces_started")
        batch_op.drop_index("ix_traces_session")
        batch_op.drop_index("ix_traces_quality")
        batch_op.drop_index("ix_traces_project_started")
        batch_op.drop_index("ix_traces_intent")
        batch_op.drop_index("ix_traces_flagged")
        batch_op.drop_index("ix_traces_domain")

    op.drop_table("traces")
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.drop_index("ix_spans_status")
        batch_op.drop_index("ix_spans_project_started")
        batch_op.drop_index("ix_spans_name_started")
        batch_op.drop_index("ix_spans_model_started")
        batch_op.drop_index("ix_spans_kind_started")

    op.drop_table("spans")
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.drop_index("ix_scores_name_at")

    op.drop_table("scores")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_at")

    op.drop_table("feedback")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_name")

    op.drop_table("events")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_decisions_what")
        batch_op.drop_index("ix_decisions_stage")

    op.drop_table("decisions")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_trace")
        batch_op.drop_index("ix_alerts_source_rule")
        batch_op.drop_index("ix_alerts_project_at")

    op.drop_table("alerts")
