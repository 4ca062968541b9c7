"""Tables of the experiments feature (added to the store's one ``metadata``).

- ``flag_definitions``: the current definition of each flag and experiment (one row per project, kind, name),
  with its version and who changed it last.
- ``flag_history``: every change ever made (create, update, kill, revive, delete) with the whole definition,
  who and when: the audit trail of a flag or an experiment.
- ``exposures``: which unit saw which variant of which experiment (or value of which flag), and in which trace.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, Table, Text

from glassbox.store.columns import Id, Json, Name, metadata

flag_definitions = Table(
    "flag_definitions",
    metadata,
    Column("project", Name, primary_key=True),
    Column("kind", Text, primary_key=True),  # flag | experiment
    Column("name", Name, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("spec", Json, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("updated_by", Name),
)

flag_history = Table(
    "flag_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", Name, nullable=False),
    Column("kind", Text, nullable=False),
    Column("name", Name, nullable=False),
    Column("version", Integer, nullable=False),
    Column("action", Text, nullable=False),  # create | update | kill | revive | delete
    Column("spec", Json),
    Column("actor", Name),
    Column("at", DateTime, nullable=False),
    Index("ix_flag_history_name_version", "project", "kind", "name", "version"),
)

exposures = Table(
    "exposures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", Name, nullable=False),
    Column("experiment", Name, nullable=False),  # the experiment's (or flag's) name
    Column("kind", Text, nullable=False),  # experiment | flag
    Column("variant", Name, nullable=False),
    Column("unit_id", Name, nullable=False),
    Column("trace_id", Id),
    Column("source", Text),  # variant | flag | openfeature
    Column("at", DateTime, nullable=False),
    Column("at_ns", BigInteger, nullable=False),
    Index("ix_exposures_experiment_variant", "experiment", "variant"),
    Index("ix_exposures_experiment_unit", "experiment", "unit_id"),
    Index("ix_exposures_trace", "trace_id"),
)
