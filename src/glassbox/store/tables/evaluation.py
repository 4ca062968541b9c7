"""Tables of the evaluation feature (added to the store's one ``metadata``).

- ``datasets`` / ``dataset_cases``: versioned regression datasets; a version is the content hash of its
  cases, so pushing the same file twice adds nothing.
- ``regression_runs`` / ``regression_results``: one row per run of a target over a dataset, one per case.
- ``goldens``: reference traces by name (a snapshot of the trace document, so a later purge of the
  trace does not lose the reference).
- ``release_verdicts``: gate and canary verdicts, and the steps of a canary ramp.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Float, Index, Integer, String, Table, Text

from glassbox.store.columns import Id, Json, Name, metadata

datasets = Table(
    "datasets",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project", Name, nullable=False),
    Column("name", Name, nullable=False),
    Column("version", String(16), nullable=False),  # content hash of the cases
    Column("description", Text),
    Column("source", Text),  # the file it came from, or "traces"
    Column("case_count", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_datasets_project_name_version", "project", "name", "version", unique=True),
)

dataset_cases = Table(
    "dataset_cases",
    metadata,
    Column("dataset_id", Id, primary_key=True),
    Column("case_id", Name, primary_key=True),
    Column("position", Integer, nullable=False),
    Column("data", Json, nullable=False),
)

regression_runs = Table(
    "regression_runs",
    metadata,
    Column("run_id", Id, primary_key=True),
    Column("project", Name, nullable=False),
    Column("dataset_id", Id),
    Column("dataset_name", Name),
    Column("dataset_version", String(16)),
    Column("target", Text, nullable=False),
    Column("status", Text, nullable=False),  # passed, failed, error
    Column("cases", Integer, nullable=False),
    Column("passed", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("ended_at", DateTime),
    Column("duration_ms", Float),
    Column("summary", Json),
    Index("ix_regression_runs_project_started", "project", "started_at"),
)

regression_results = Table(
    "regression_results",
    metadata,
    Column("run_id", Id, primary_key=True),
    Column("case_id", Name, primary_key=True),
    Column("position", Integer, nullable=False),
    Column("trace_id", Id),
    Column("passed", Boolean, nullable=False),
    Column("error", Text),  # the target raised (or the case could not run)
    Column("duration_ms", Float),
    Column("cost_usd", Float),
    Column("workflow", Name),
    Column("output", Json),
    Column("assertions", Json),  # [{name, passed, expected, actual, message}]
    Column("scores", Json),  # {name: value}
)

goldens = Table(
    "goldens",
    metadata,
    Column("project", Name, primary_key=True),
    Column("name", Name, primary_key=True),
    Column("trace_id", Id),
    Column("workflow", Name),  # recent runs of this workflow (and trace name) are checked against it
    Column("trace_name", Text),
    Column("template", Name),  # a template golden (rag, agent_loop) has a shape and no trace
    Column("tolerances", Json),
    Column("metadata", Json),
    Column("snapshot", Json),  # the trace document at capture time
    Column("captured_at", DateTime, nullable=False),
)

release_verdicts = Table(
    "release_verdicts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project", Name, nullable=False),
    Column("kind", Text, nullable=False),  # gate, canary, ramp
    Column("name", Name),  # the canary / ramp name
    Column("step", Integer),  # ramp step (0-based) and its traffic share
    Column("percent", Float),
    Column("verdict", Text, nullable=False),  # pass/fail/not_enough_data; promote/hold/rollback
    Column("score", Float),
    Column("baseline", Json),
    Column("candidate", Json),
    Column("metrics", Json),
    Column("reasons", Json),
    Column("at", DateTime, nullable=False),
    Column("at_ns", BigInteger, nullable=False),
    Index("ix_release_verdicts_project_at", "project", "at"),
    Index("ix_release_verdicts_name_at", "name", "at"),
)
