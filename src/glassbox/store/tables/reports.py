"""Tables of the reports feature (added to the store's one ``metadata``).

- ``reports``: one row per generated report file (kind, period, format, where the file is, its headline
  figures), so the dashboard lists reports with their period and retention can delete old ones.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Table, Text

from glassbox.store.columns import Id, Json, Name, metadata

reports = Table(
    "reports",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project", Name),  # None: every project
    Column("kind", Name, nullable=False),  # cost, quality, weekly, experiment
    Column("format", Name, nullable=False),  # md, html, json
    Column("since", DateTime, nullable=False),
    Column("until", DateTime, nullable=False),
    Column("path", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("summary", Json),  # headline figures and recommendation count
    Column("created_at", DateTime, nullable=False),
    Index("ix_reports_created", "created_at"),
    Index("ix_reports_kind_created", "kind", "created_at"),
)
