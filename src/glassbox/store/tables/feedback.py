"""Tables of the drift and feedback features (added to the store's one ``metadata``).

- ``drift_results``: one row per field and segment per drift check (a time series: ``check_id`` groups
  the rows of one check, ``at`` orders them).
- ``drift_baselines``: pinned reference samples (``glassbox drift pin``), compared instead of a window.

The richer feedback columns (scale, normalised rating, sentiment label) live on the core
``feedback`` table in ``store/schema.py``; migration 0009 adds them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Float, Index, Integer, String, Table, Text

from glassbox.store.columns import Json, Name, metadata

drift_results = Table(
    "drift_results",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("check_id", String(16), nullable=False),
    Column("project", Name, nullable=False),
    Column("field", Name, nullable=False),
    Column("segment_by", Name),  # release / workflow; NULL for the overall row
    Column("segment", Name),
    Column("status", Text, nullable=False),  # ok, drift, not_enough_data
    Column("severity", Text, nullable=False),  # none, low, medium, high, critical (none when not enough data)
    Column("method", Text),
    Column("score", Float),
    Column("threshold", Float),
    Column("drifted", Boolean, nullable=False),
    Column("n_reference", Integer, nullable=False),
    Column("n_current", Integer, nullable=False),
    Column("reference", Json),  # the windows or baseline compared, for people
    Column("current", Json),
    Column("details", Json),
    Column("at", DateTime, nullable=False),
    Column("at_ns", BigInteger, nullable=False),
    Index("ix_drift_results_project_field_at", "project", "field", "at"),
    Index("ix_drift_results_check", "check_id"),
)

drift_baselines = Table(
    "drift_baselines",
    metadata,
    Column("project", Name, primary_key=True),
    Column("name", Name, primary_key=True),
    Column("field", Name, primary_key=True),
    Column("segment_by", Name, primary_key=True, server_default=""),
    Column("segment", Name, primary_key=True, server_default=""),
    Column("categorical", Boolean, nullable=False),
    Column("values", Json, nullable=False),
    Column("source", Json),
    Column("created_at", DateTime, nullable=False),
)
