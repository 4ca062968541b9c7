"""Writer throughput: span rows per second into SQLite or PostgreSQL.

Traces come from the real SDK (``workload.build_traces``: 10 stages + root, one decision
per stage). Three ways of writing them are timed, each into a fresh database per repeat:

* ``store``: ``Store.write_traces`` in batches of 500 traces (what the writer thread calls).
* ``full``: ``gb.configure(store=url, trail_dir=None)``, record the traces through the SDK,
  ``gb.flush()``; timed from the first trace to the end of the flush (recording included).
* ``sqlite3`` (SQLite only): a hand-written baseline with the standard library driver:
  the same rows (traces, spans, decisions) into tables with the same columns, keys and
  indexes, ``executemany`` in one transaction per batch, WAL, synchronous=NORMAL — starting
  from the same Trace objects (row tuples and JSON built inside the timed region).

Throughput is span rows / second (11 per trace); decision and trace rows are written too.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter
from typing import Any

import workload
from _common import Results, interleaved, log, median

import glassbox as gb

BATCH = 500
PG_SCHEMA_PREFIX = "glassbox_bench_"


# -- plain sqlite3 baseline ----------------------------------------------------------------------
_DDL = """
CREATE TABLE traces (
  trace_id VARCHAR(32) NOT NULL PRIMARY KEY, project TEXT NOT NULL DEFAULT 'default', service TEXT, name TEXT,
  input JSON, output JSON, workflow TEXT, intent TEXT, domain TEXT, user_id TEXT, session_id TEXT,
  environment TEXT, release TEXT, status TEXT NOT NULL, error JSON, started_at DATETIME, ended_at DATETIME,
  start_ns BIGINT, end_ns BIGINT, duration_ms FLOAT, tokens_in BIGINT, tokens_out BIGINT, cost_usd FLOAT,
  cost_source TEXT, quality_score FLOAT, gate_passed BOOLEAN, experiment TEXT, variant TEXT,
  flagged_for_review BOOLEAN NOT NULL DEFAULT 0, review_notes TEXT, tags JSON, metadata JSON,
  root_span_id VARCHAR(16), parent_span_id VARCHAR(16), schema_version INTEGER NOT NULL DEFAULT 1);
CREATE INDEX ix_traces_project_started ON traces (project, started_at);
CREATE INDEX ix_traces_workflow_started ON traces (workflow, started_at);
CREATE INDEX ix_traces_status_started ON traces (status, started_at);
CREATE INDEX ix_traces_intent ON traces (intent);
CREATE INDEX ix_traces_domain ON traces (domain);
CREATE INDEX ix_traces_started ON traces (started_at);
CREATE INDEX ix_traces_quality ON traces (quality_score);
CREATE INDEX ix_traces_session ON traces (session_id);
CREATE INDEX ix_traces_user ON traces (user_id);
CREATE INDEX ix_traces_flagged ON traces (flagged_for_review);
CREATE TABLE spans (
  trace_id VARCHAR(32) NOT NULL, span_id VARCHAR(16) NOT NULL, parent_id VARCHAR(16), project TEXT,
  service TEXT, name TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, started_at DATETIME,
  start_ns BIGINT NOT NULL, end_ns BIGINT, duration_ms FLOAT, error_type TEXT, error_message TEXT,
  error_stack TEXT, model TEXT, tokens_in BIGINT, tokens_out BIGINT, cost_usd FLOAT, peak_gpu_mem_bytes BIGINT,
  model_loads INTEGER, attributes JSON, input JSON, output JSON, PRIMARY KEY (trace_id, span_id));
CREATE INDEX ix_spans_name_started ON spans (name, started_at);
CREATE INDEX ix_spans_kind_started ON spans (kind, started_at);
CREATE INDEX ix_spans_model_started ON spans (model, started_at);
CREATE INDEX ix_spans_status ON spans (status);
CREATE INDEX ix_spans_project_started ON spans (project, started_at);
CREATE TABLE decisions (
  trace_id VARCHAR(32) NOT NULL, id VARCHAR(16) NOT NULL, span_id VARCHAR(16), stage TEXT, what TEXT NOT NULL,
  why TEXT, confidence FLOAT, alternatives JSON, inputs JSON, at DATETIME, at_ns BIGINT,
  PRIMARY KEY (trace_id, id));
CREATE INDEX ix_decisions_what ON decisions (what);
CREATE INDEX ix_decisions_stage ON decisions (stage);
"""
_INSERT_TRACE = f"INSERT INTO traces VALUES ({', '.join('?' * 35)})"
_INSERT_SPAN = f"INSERT INTO spans VALUES ({', '.join('?' * 24)})"
_INSERT_DECISION = f"INSERT INTO decisions VALUES ({', '.join('?' * 11)})"


def _ts(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns // 1000 / 1e6, tz=UTC).replace(tzinfo=None).isoformat(" ")


def _js(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _plain_rows(batch: Sequence[Any]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    trace_rows, span_rows, decision_rows = [], [], []
    for t in batch:
        tid, project = t.trace_id, t.project or "default"
        trace_rows.append(
            (
                tid,
                project,
                t.service,
                t.name,
                _js(t.input),
                _js(t.output),
                t.workflow,
                t.intent,
                t.domain,
                t.user_id,
                t.session_id,
                t.environment,
                t.release,
                t.status,
                _js(t.error),
                _ts(t.start_ns),
                _ts(t.end_ns),
                t.start_ns,
                t.end_ns,
                t.duration_ms,
                t.tokens_in,
                t.tokens_out,
                t.cost_usd,
                t.cost_source,
                t.quality_score,
                t.gate_passed,
                t.experiment,
                t.variant,
                bool(t.flagged_for_review),
                t.review_notes,
                json.dumps(list(t.tags)),
                _js(t.metadata),
                t.root_span_id,
                t.parent_span_id,
                1,
            )
        )
        for s in t.spans:
            err = s.error or {}
            span_rows.append(
                (
                    tid,
                    s.span_id,
                    s.parent_id,
                    project,
                    s.service,
                    s.name,
                    s.kind,
                    s.status,
                    _ts(s.start_ns),
                    s.start_ns,
                    s.end_ns,
                    s.duration_ms,
                    err.get("type"),
                    err.get("message"),
                    err.get("stack"),
                    s.model,
                    s.tokens_in,
                    s.tokens_out,
                    s.cost_usd,
                    s.peak_gpu_mem_bytes,
                    s.model_loads,
                    json.dumps(s.attributes or {}),
                    _js(s.input),
                    _js(s.output),
                )
            )
        for d in t.decisions:
            decision_rows.append(
                (
                    tid,
                    d.id,
                    d.span_id,
                    d.stage,
                    d.what,
                    d.why,
                    d.confidence,
                    json.dumps([{"option": o, "score": sc} for o, sc in d.alternatives]),
                    _js(d.inputs),
                    _ts(d.at_ns),
                    d.at_ns,
                )
            )
    return trace_rows, span_rows, decision_rows


def write_plain_sqlite(path: Path, batches: list[list[Any]]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(_DDL)
    t0 = perf_counter()
    for batch in batches:
        trace_rows, span_rows, decision_rows = _plain_rows(batch)
        conn.execute("BEGIN")
        conn.executemany(_INSERT_SPAN, span_rows)
        conn.executemany(_INSERT_DECISION, decision_rows)
        conn.executemany(_INSERT_TRACE, trace_rows)
        conn.execute("COMMIT")
    elapsed = perf_counter() - t0
    n = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
    conn.close()
    _expect(n, sum(len(t.spans) for b in batches for t in b), "plain sqlite3 spans")
    return elapsed


# -- glassbox ------------------------------------------------------------------------------------
def write_store(url: str, batches: list[list[Any]]) -> float:
    from glassbox.store.store import Store

    store = Store(url).ready()  # migrations are not part of the measurement
    try:
        t0 = perf_counter()
        for batch in batches:
            store.write_traces(batch)
        elapsed = perf_counter() - t0
        _expect_counts(store, sum(len(b) for b in batches))
    finally:
        store.close()
    return elapsed


def write_full(url: str, count: int) -> float:
    from glassbox.store.store import Store

    Store(url).ready().close()  # migrated beforehand: the writer thread finds the schema at head
    # The same rows as the baseline: heuristic signal scores (6 per trace) and calibration queries are off.
    gb.configure(
        store=url,
        trail_dir=None,
        batch_size=BATCH,
        queue_policy="block",
        queue_size=max(count, 1),
        heuristics=False,
        calibration=False,
    )
    t0 = perf_counter()
    workload.record(count)
    flushed = gb.flush(timeout=600)
    elapsed = perf_counter() - t0
    health = gb.health()
    gb.shutdown()
    sink = health.get("sinks", {}).get("database", {})
    if not flushed or sink.get("errors") or sink.get("written") != count or health.get("dropped"):
        raise RuntimeError(f"full path did not write every trace: {health}")
    store = Store(url)
    try:
        _expect_counts(store, count)
    finally:
        store.close()
    return elapsed


def _expect_counts(store: Any, traces: int) -> None:
    counts = store.counts()
    _expect(counts["traces"], traces, "traces")
    _expect(counts["spans"], traces * workload.SPANS_PER_TRACE, "spans")
    _expect(counts["decisions"], traces * workload.STAGES, "decisions")


def _expect(got: int, want: int, what: str) -> None:
    if got != want:
        raise RuntimeError(f"{what}: {got} rows written, {want} expected")


# -- PostgreSQL scratch schemas ------------------------------------------------------------------
class PgSchemas:
    """A fresh schema per run on the scratch database (dropped at the end): no one else's tables touched."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        self.url = make_url(url)
        if self.url.drivername == "postgresql":
            self.url = self.url.set(drivername="postgresql+psycopg")
        self.created: list[str] = []

    def _admin(self) -> Any:
        import psycopg

        u = self.url
        return psycopg.connect(
            host=u.host or "127.0.0.1",
            port=u.port or 5432,
            user=u.username,
            password=u.password,
            dbname=u.database,
            autocommit=True,
            connect_timeout=10,
        )

    def fresh(self) -> str:
        """A URL whose connections see only a new, empty schema."""
        name = f"{PG_SCHEMA_PREFIX}{os.getpid()}_{len(self.created)}"
        with self._admin() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{name}"')
        self.created.append(name)
        query = dict(self.url.query)
        query["options"] = f"-csearch_path={name}"
        return self.url.set(query=query).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self._admin() as conn:
            for name in self.created:
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


# -- main ----------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--traces", type=int, default=5_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    count, backend = args.traces, args.backend
    res = Results(f"writer-{backend}")
    spans = count * workload.SPANS_PER_TRACE
    log(f"writer -> {backend}: {count:,} traces ({spans:,} spans) x {args.repeats} repeats")

    traces = workload.build_traces(count)
    batches = [traces[i : i + BATCH] for i in range(0, count, BATCH)]
    tmp = tempfile.TemporaryDirectory(prefix="glassbox-bench-")
    files = itertools.count()
    pg = PgSchemas(args.postgres) if backend == "postgres" else None

    def new_url() -> str:
        if pg is not None:
            return pg.fresh()
        return f"sqlite:///{Path(tmp.name) / f'bench-{next(files)}.db'}"

    cases: dict[str, Callable[[], float]] = {
        "store": lambda: write_store(new_url(), batches),
        "full": lambda: write_full(new_url(), count),
    }
    if backend == "sqlite":
        cases["sqlite3"] = lambda: write_plain_sqlite(Path(tmp.name) / f"plain-{next(files)}.db", batches)
    try:
        times = interleaved(cases, args.repeats)
    finally:
        if pg is not None:
            pg.drop_all()
        tmp.cleanup()
    rate = {name: spans / median(v) for name, v in times.items()}
    labels = {"store": "Store.write_traces", "full": "gb.configure + record + flush", "sqlite3": "plain sqlite3"}
    for name, value in rate.items():
        res.figure(f"{backend}: {labels[name]}", value, "spans/s", f"median of {args.repeats}")
    if backend == "sqlite":
        base = rate["sqlite3"]
        for name in ("store", "full"):
            ratio = rate[name] / base
            res.check(f"sqlite: {labels[name]} vs plain sqlite3", ratio, "x", ">= 0.5x", ratio >= 0.5)
    else:
        for name in ("store", "full"):
            res.check(f"postgres: {labels[name]}", rate[name], " spans/s", ">= 10,000", rate[name] >= 10_000)
    res.emit()


if __name__ == "__main__":
    main()
