"""OTLP fidelity and order-independent merges.

Spans keep what an OpenTelemetry span carries besides attributes: span kind, trace state, status
message, links, resource and scope. Traces get ``segment_fields`` (which run fields the primary
segment set; see ``glassbox.store.merge``). JSON columns that held the JSON text ``null`` for an
absent value now hold SQL NULL, as new writes do; existing primary rows are marked as such.
Run totals are recomputed from each trace's own spans: before this revision, a trace written again
(a re-import, a second service, a split OTLP export) got the sums over the whole store.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_SPAN_COLUMNS = (
    ("span_kind", sa.Text()),
    ("trace_state", sa.Text()),
    ("status_message", sa.Text()),
    ("links", _JSON),
    ("resource", _JSON),
    ("scope", _JSON),
)
# As glassbox.store.merge.FILLED, frozen here: bit 2 << i for the i-th field.
_FILLED = (
    "project",
    "service",
    "workflow",
    "intent",
    "domain",
    "user_id",
    "session_id",
    "environment",
    "release",
    "input",
    "output",
    "experiment",
    "variant",
    "quality_score",
    "gate_passed",
)
_NULLABLE_JSON = {"traces": ("input", "output", "error"), "spans": ("input", "output")}


def upgrade() -> None:
    with op.batch_alter_table("spans", schema=None) as batch_op:
        for name, type_ in _SPAN_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    with op.batch_alter_table("traces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("segment_fields", sa.Integer(), server_default="0", nullable=False))
    pg = op.get_bind().dialect.name == "postgresql"
    json_null = "'null'::jsonb" if pg else "'null'"
    for table, columns in _NULLABLE_JSON.items():
        for col in columns:
            op.execute(f"UPDATE {table} SET {col} = NULL WHERE {col} = {json_null}")
    bits = " + ".join(f"CASE WHEN {name} IS NULL THEN 0 ELSE {2 << i} END" for i, name in enumerate(_FILLED))
    op.execute(
        f"UPDATE traces SET segment_fields = 1 + {bits} WHERE root_span_id IS NOT NULL AND parent_span_id IS NULL"
    )
    op.execute(
        "UPDATE traces SET "
        + ", ".join(
            f"{col} = (SELECT sum(spans.{col}) FROM spans WHERE spans.trace_id = traces.trace_id)"
            for col in ("tokens_in", "tokens_out", "cost_usd")
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("traces", schema=None) as batch_op:
        batch_op.drop_column("segment_fields")
    with op.batch_alter_table("spans", schema=None) as batch_op:
        for name, _ in reversed(_SPAN_COLUMNS):
            batch_op.drop_column(name)
