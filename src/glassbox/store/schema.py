"""Tables and indexes of the store (SQLite and PostgreSQL share them).

Times are naive UTC datetimes (``*_at``, for date filters that read well in SQL)
plus integer epoch nanoseconds (``*_ns``, lossless, the authority).
The migrations in ``store/migrations`` build exactly this; a test checks they agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    literal_column,
    or_,
)

from glassbox.store.columns import Id, Json, Name, metadata
from glassbox.store.tables import evaluation as _evaluation
from glassbox.store.tables import experiments as _experiments
from glassbox.store.tables import feedback as _feedback
from glassbox.store.tables import monitoring as _monitoring
from glassbox.store.tables import reports as _reports

traces = Table(
    "traces",
    metadata,
    Column("trace_id", Id, primary_key=True),
    Column("project", Name, nullable=False, server_default="default"),
    Column("service", Name),
    Column("name", Text),
    Column("input", Json),
    Column("output", Json),
    Column("workflow", Name),
    Column("intent", Name),
    Column("domain", Name),
    Column("user_id", Name),
    Column("session_id", Name),
    Column("environment", Name),
    Column("release", Name),
    Column("status", Text, nullable=False),
    Column("error", Json),
    Column("started_at", DateTime),
    Column("ended_at", DateTime),
    Column("start_ns", BigInteger),
    Column("end_ns", BigInteger),
    Column("duration_ms", Float),
    Column("tokens_in", BigInteger),
    Column("tokens_out", BigInteger),
    Column("cost_usd", Float),
    Column("cost_source", Text),
    Column("quality_score", Float),
    Column("gate_passed", Boolean),
    Column("experiment", Name),
    Column("variant", Name),
    Column("flagged_for_review", Boolean, nullable=False, server_default="0"),
    Column("review_notes", Text),
    Column("tags", Json),
    Column("metadata", Json),
    Column("root_span_id", String(16)),
    Column("parent_span_id", String(16)),
    Column("schema_version", Integer, nullable=False, server_default="1"),
    # Which run fields the primary segment set (bit 0: a primary is stored); see store/merge.py.
    Column("segment_fields", Integer, nullable=False, server_default="0"),
    Index("ix_traces_project_started", "project", "started_at"),
    Index("ix_traces_workflow_started", "workflow", "started_at"),
    Index("ix_traces_status_started", "status", "started_at"),
    Index("ix_traces_intent", "intent"),
    Index("ix_traces_domain", "domain"),
    Index("ix_traces_started", "started_at"),
    Index("ix_traces_quality", "quality_score"),
    Index("ix_traces_session", "session_id"),
    Index("ix_traces_user", "user_id"),
    Index("ix_traces_flagged", "flagged_for_review"),
    Index("ix_traces_workflow_status_started", "workflow", "status", "started_at"),
    Index("ix_traces_project_status_started", "project", "status", "started_at"),
    # release gates and canaries select by release and read these figures only (covering, no row lookups)
    Index("ix_traces_release_gate", "release", "status", "duration_ms", "cost_usd", "quality_score"),
)

spans = Table(
    "spans",
    metadata,
    Column("trace_id", Id, primary_key=True),
    Column("span_id", String(16), primary_key=True),
    Column("parent_id", String(16)),
    Column("project", Name),
    Column("service", Name),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("started_at", DateTime),
    Column("start_ns", BigInteger, nullable=False),
    Column("end_ns", BigInteger),
    Column("duration_ms", Float),
    Column("error_type", Name),
    Column("error_message", Text),
    Column("error_stack", Text),
    Column("model", Name),
    Column("tokens_in", BigInteger),
    Column("tokens_out", BigInteger),
    Column("cost_usd", Float),
    Column("peak_gpu_mem_bytes", BigInteger),
    Column("model_loads", Integer),
    Column("attributes", Json),
    Column("input", Json),
    Column("output", Json),
    # OTLP fidelity (migration 0005): what an OpenTelemetry span carries besides its attributes.
    Column("span_kind", Text),  # internal / server / client / producer / consumer (NULL: unspecified)
    Column("trace_state", Text),  # W3C tracestate header value
    Column("status_message", Text),  # the span status's own description
    Column("links", Json),  # [{trace_id, span_id, trace_state?, attributes?}]
    Column("resource", Json),  # every resource attribute of the sender (service.name included)
    Column("scope", Json),  # {name, version, attributes} of the instrumentation scope
)

# Spans are read by trace (the primary key) except for cost reports, which read LLM calls in a time
# window, and stage latency SLOs (ix_spans_trace_name below, the one full secondary index). The others are
# partial ones over calls: every other span costs them no index upkeep on write (five full indexes on spans
# had halved write throughput). Queries must repeat LLM_CALL verbatim for the planner to use them.
LLM_CALL = or_(spans.c.cost_usd.is_not(None), spans.c.tokens_in.is_not(None), spans.c.tokens_out.is_not(None))
Index("ix_spans_calls_started", spans.c.started_at, sqlite_where=LLM_CALL, postgresql_where=LLM_CALL)
Index(
    "ix_spans_calls_project_started",
    spans.c.project,
    spans.c.started_at,
    sqlite_where=LLM_CALL,
    postgresql_where=LLM_CALL,
)
# Calls that could not be priced (rare): counted by every cost report.
UNPRICED_CALL = and_(spans.c.cost_usd.is_(None), LLM_CALL)
Index("ix_spans_unpriced_started", spans.c.started_at, sqlite_where=UNPRICED_CALL, postgresql_where=UNPRICED_CALL)
# SLO checks (migration 0008): failed stages are rare, so their partial index costs other spans nothing; the
# status literal is inline SQL because SQLite only uses a partial index when the query repeats its predicate.
SPAN_FAILED = spans.c.status == literal_column("'error'")
Index("ix_spans_failed", spans.c.trace_id, sqlite_where=SPAN_FAILED, postgresql_where=SPAN_FAILED)
# ...and every trace-level SLI reads the window's runs from this index alone (covering: no row lookups), scoped by
# project, workflow, environment, release or service too (migration 0011). It leads with (status, started_at) so
# that SQLite's planner takes it over ix_traces_status_started.
Index(
    "ix_traces_slo",
    traces.c.status,
    traces.c.started_at,
    traces.c.project,
    traces.c.workflow,
    traces.c.environment,
    traces.c.release,
    traces.c.service,
    traces.c.start_ns,
    traces.c.duration_ms,
    traces.c.quality_score,
    traces.c.trace_id,
)
# ...and a stage latency SLO (migration 0011) reads the stage's span of each of those runs, its duration included,
# from this one instead of a row lookup for every span of every run. It leads with the trace id so that a run's
# spans go to one leaf page (leading with the name, it added twice as much to a write: a page per span), then the
# span id so that a read by trace id that takes it sees the spans in the primary key's order (sums of costs in
# store/merge.py must not depend on which segment came first).
Index("ix_spans_trace_name", spans.c.trace_id, spans.c.span_id, spans.c.name, spans.c.duration_ms)

decisions = Table(
    "decisions",
    metadata,
    Column("trace_id", Id, primary_key=True),
    Column("id", String(16), primary_key=True),
    Column("span_id", String(16)),
    Column("stage", Text),
    Column("what", Text, nullable=False),
    Column("why", Text),
    Column("confidence", Float),
    Column("alternatives", Json),
    Column("inputs", Json),
    Column("at", DateTime),
    Column("at_ns", BigInteger),
    Index("ix_decisions_what", "what"),
    Index("ix_decisions_stage", "stage"),
)

events = Table(
    "events",
    metadata,
    Column("trace_id", Id, primary_key=True),
    Column("id", String(16), primary_key=True),
    Column("span_id", String(16)),
    Column("name", Text, nullable=False),
    Column("payload", Json),
    Column("at", DateTime),
    Column("at_ns", BigInteger),
    Index("ix_events_name", "name"),
)

scores = Table(
    "scores",
    metadata,
    Column("trace_id", Id, primary_key=True),
    Column("id", String(16), primary_key=True),
    Column("span_id", String(16)),
    Column("name", Name, nullable=False),
    Column("value", Float, nullable=False),
    Column("max", Float),
    Column("passed", Boolean),
    Column("source", Text, nullable=False),
    Column("dimensions", Json),
    Column("comment", Text),
    Column("at", DateTime),
    Column("at_ns", BigInteger),
    Index("ix_scores_name_at", "name", "at"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("trace_id", Id, primary_key=True),
    Column("id", String(16), primary_key=True),
    Column("kind", Text, nullable=False),
    Column("rating", Float),
    Column("signal", Text),
    Column("comment", Text),
    Column("sentiment", Float),
    Column("user_id", Name),
    Column("at", DateTime),
    Column("at_ns", BigInteger),
    # migration 0009: the rating's scale ("1-5", "thumbs", "0-1"), the rating on 0..1, and the sentiment's label
    Column("scale", Text),
    Column("normalized", Float),
    Column("label", Text),
    Index("ix_feedback_at", "at"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("project", Name),
    Column("source", Text, nullable=False),
    Column("rule", Name, nullable=False),
    Column("severity", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("dims", Json),
    Column("trace_id", Id),
    Column("at", DateTime),
    Column("at_ns", BigInteger),
    Column("acknowledged", Boolean, nullable=False, server_default="0"),
    # Monitoring (migration 0008): one row per open alert and dedup key; ``at`` is when it was last seen.
    Column("state", Text, nullable=False, server_default="firing"),  # firing / acknowledged / resolved
    Column("dedup_key", Text),
    Column("first_seen", DateTime),
    Column("first_seen_ns", BigInteger),
    Column("count", Integer, nullable=False, server_default="1"),
    Column("resolved_at", DateTime),
    Index("ix_alerts_project_at", "project", "at"),
    Index("ix_alerts_source_rule", "source", "rule"),
    Index("ix_alerts_trace", "trace_id"),
    Index("ix_alerts_state_at", "state", "at"),
)
# At most one open (not resolved) alert per dedup key: firing again counts on the open one.
ALERT_OPEN = alerts.c.state != "resolved"
Index("ix_alerts_open_key", alerts.c.dedup_key, unique=True, sqlite_where=ALERT_OPEN, postgresql_where=ALERT_OPEN)

# Server API keys: only a hash of the secret is kept; the secret is shown once at creation.
api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("project", Name, nullable=False),
    Column("scope", Text, nullable=False),
    Column("name", Text),
    Column("secret_hash", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Column("last_used_at", DateTime),
    Index("ix_api_keys_project", "project"),
)

CHILD_TABLES = (spans, decisions, events, scores, feedback)

# The wave's table families register themselves on ``metadata`` (each in its own module and migration).
FAMILIES = (_evaluation, _experiments, _monitoring, _feedback, _reports)
