"""The store: write finished traces (merging segments), read them back whole, list them."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select, text, true, update
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from glassbox.errors import StoreError, TraceNotFound
from glassbox.model import Trace
from glassbox.store import database, rows
from glassbox.store import dialect as sql
from glassbox.store.alerts import record_in as record_alerts
from glassbox.store.bulk import BulkWriter
from glassbox.store.merge import MergeRules, primary_fields
from glassbox.store.schema import CHILD_TABLES, alerts, decisions, events, feedback, scores, spans, traces

_CHILD_KEYS = {
    "spans": ("trace_id", "span_id"),
    "decisions": ("trace_id", "id"),
    "events": ("trace_id", "id"),
    "scores": ("trace_id", "id"),
    "feedback": ("trace_id", "id"),
    "alerts": ("id",),
}


class Store:
    """A SQLite or PostgreSQL store, migrated on first use."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url = database.as_url(url)  # a plain path is an SQLite file
        self.engine: Engine = database.make_engine(url)
        self.dialect = self.engine.dialect.name
        self._bulk = BulkWriter(self.engine.dialect)
        self._merge = MergeRules(self.dialect)
        self._ready = False
        self._migrate = migrate

    def __repr__(self) -> str:
        return f"Store({database.safe_url(self.url)!r})"

    def _file_vanished(self) -> bool:
        db = self.engine.url.database
        return (
            self.dialect == "sqlite"
            and self._ready
            and bool(db)
            and db != ":memory:"
            and not db.startswith("file:")
            and not os.path.exists(db)
        )

    def ready(self) -> Store:
        if self._file_vanished():
            # Pooled connections would keep writing into the deleted inode: start over on a new file.
            self.engine.dispose()
            database.forget(self.engine)
            self._ready = False
        if not self._ready:
            if self._migrate:
                database.ensure_schema(self.engine)
            self._ready = True
        return self

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Connections are taken here, in one place: the store is ready (migrated) first, and each block
    # gives its connection back however it ends.
    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading: ``with store.read() as conn: conn.execute(select(...))``."""
        with self.ready().engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction, committed when the block ends and rolled back if it raises."""
        with self.ready().engine.begin() as conn:
            yield conn

    def after_fork(self) -> None:
        self.engine.dispose(close=False)  # connections belong to the parent

    # -- writing ----------------------------------------------------------------------
    def _insert(self, table: Any) -> Any:
        return sql.insert(self.dialect, table)

    def write_traces(self, batch: Sequence[Trace]) -> None:
        """Upsert whole traces or segments in one transaction (idempotent by id)."""
        if not batch:
            return
        self.ready()
        try:
            primary, partial, child_rows = self._rows(batch)
            with self.engine.begin() as conn:
                # Children first: on conflict, a trace's totals are summed from all its spans in the table.
                for table in CHILD_TABLES:
                    data = child_rows[table.name]
                    if data:
                        self._bulk.execute(conn, table.name, lambda t=table: self._child_upsert(t), data)
                raised = [a for t in batch for a in t.alerts]
                if raised:  # budget alerts: deduplicated like every alert (store.alerts)
                    known = {
                        r[0] for r in conn.execute(select(alerts.c.id).where(alerts.c.id.in_([a.id for a in raised])))
                    }  # a re-import counts nothing twice
                    record_alerts(conn, [a for a in raised if a.id not in known])
                if primary:
                    self._bulk.execute(conn, "traces", self._primary_upsert, primary)
                for row in partial:
                    stmt = self._insert(traces)
                    cols = self._merge.partial(stmt.excluded)  # see store/merge.py: any arrival order, one run
                    conn.execute(stmt.on_conflict_do_update(index_elements=["trace_id"], set_=cols), row)
        except SQLAlchemyError as exc:
            err = StoreError(f"write to {database.safe_url(self.url)} failed: {database._short(exc)}")
            # A bad row (not a dead server) is worth isolating: the sink retries trace by trace.
            err.data_error = not isinstance(exc, (OperationalError, InterfaceError))  # type: ignore[attr-defined]
            raise err from None
        except (ValueError, TypeError, OverflowError) as exc:  # a value the driver cannot bind (huge int, bad date)
            err = StoreError(f"write to {database.safe_url(self.url)} failed: {type(exc).__name__}: {exc}")
            err.data_error = True  # type: ignore[attr-defined]
            raise err from None

    def _rows(self, batch: Sequence[Trace]) -> tuple[list[Any], list[Any], dict[str, list[Any]]]:
        """(primary trace rows, partial-segment rows, child rows by table), deduplicated by key."""
        primary_by_id: dict[str, dict[str, Any]] = {}
        partial: list[dict[str, Any]] = []
        child: dict[str, dict[Any, dict[str, Any]]] = {t.name: {} for t in CHILD_TABLES}
        for t in batch:
            row = rows.trace_row(t)
            if t.root_span_id is not None and t.parent_span_id is None:
                row["segment_fields"] = primary_fields(row)
                primary_by_id[t.trace_id] = row  # a duplicate in one batch: the last copy wins
            elif t.spans or t.start_ns:
                row["segment_fields"] = 0
                partial.append(row)
            # else: an annotation (feedback given after the run was written): child rows only, no run row
            tid, project = t.trace_id, t.project
            child["spans"].update(((tid, s.span_id), rows.span_row(s, project)) for s in t.spans)
            child["decisions"].update(((tid, d.id), rows.decision_row(tid, d)) for d in t.decisions)
            child["events"].update(((tid, e.id), rows.event_row(tid, e)) for e in t.events)
            child["scores"].update(((tid, s.id), rows.score_row(tid, s)) for s in t.scores)
            child["feedback"].update(((tid, f.id), rows.feedback_row(tid, f)) for f in t.feedback)
        primary = list(primary_by_id.values())
        child_rows = {name: list(d.values()) for name, d in child.items()}
        if self.dialect == "postgresql" and rows.has_nul([primary, partial, child_rows]):
            primary, partial = rows.scrub_nul(primary), rows.scrub_nul(partial)
            child_rows = {name: rows.scrub_nul(data) for name, data in child_rows.items()}
        return primary, partial, child_rows

    def _primary_upsert(self) -> Any:
        stmt = self._insert(traces)
        return stmt.on_conflict_do_update(index_elements=["trace_id"], set_=self._merge.primary(stmt.excluded))

    def _child_upsert(self, table: Any) -> Any:
        stmt = self._insert(table)
        keys = _CHILD_KEYS[table.name]
        # An alert's `acknowledged` stays as a person set it.
        cols = {c.name: stmt.excluded[c.name] for c in table.c if c.name not in keys and c.name != "acknowledged"}
        return stmt.on_conflict_do_update(index_elements=list(keys), set_=cols)

    def set_review(self, trace_id: str, *, flagged: bool | None = None, notes: str | None = None) -> None:
        values: dict[str, Any] = {}
        if flagged is not None:
            values["flagged_for_review"] = flagged
        if notes is not None:
            values["review_notes"] = notes
        with self.write() as conn:
            n = conn.execute(update(traces).where(traces.c.trace_id == trace_id).values(**values)).rowcount
        if not n:
            raise TraceNotFound(f"no trace {trace_id!r} in {database.safe_url(self.url)}")

    # -- reading ----------------------------------------------------------------------
    def get_trace(self, trace_id: str, *, project: str | None = None) -> Trace:
        """One trace, whole, merged from every segment; TraceNotFound if absent.

        ``project``: only that project's traces are looked at (an id prefix never matches, nor reports
        as ambiguous, another project's traces)."""
        mine = traces.c.project == project if project is not None else true()
        try:
            with self.read() as conn:
                row = conn.execute(select(traces).where(traces.c.trace_id == trace_id, mine)).first()
                if row is None:
                    matches = (
                        conn.execute(
                            select(traces.c.trace_id)
                            .where(traces.c.trace_id.startswith(trace_id, autoescape=True), mine)
                            .limit(2)
                        ).all()
                        if 4 <= len(trace_id) < 32
                        else []
                    )
                    if len(matches) > 1:
                        raise TraceNotFound(
                            f"trace id prefix {trace_id!r} is ambiguous in "
                            f"{database.safe_url(self.url)}: give more characters"
                        )
                    if not matches:
                        hint = ": an id prefix needs at least 4 characters" if len(trace_id) < 4 else ""
                        raise TraceNotFound(f"no trace {trace_id!r} in {database.safe_url(self.url)}{hint}")
                    trace_id = matches[0][0]
                    row = conn.execute(select(traces).where(traces.c.trace_id == trace_id)).first()
                parts = [
                    conn.execute(select(t).where(t.c.trace_id == trace_id).order_by(*_order(t))).all()
                    for t in (spans, decisions, events, scores, feedback, alerts)
                ]
        except SQLAlchemyError as exc:
            raise StoreError(f"read from {database.safe_url(self.url)} failed: {database._short(exc)}") from None
        return rows.trace_from_rows(row, *parts)

    def list_traces(
        self,
        *,
        project: str | None = None,
        workflow: str | None = None,
        intent: str | None = None,
        domain: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Run summaries, newest first (the full filter set lives in the query API)."""
        c = traces.c
        conds = [
            col == val
            for col, val in (
                (c.project, project),
                (c.workflow, workflow),
                (c.intent, intent),
                (c.domain, domain),
                (c.status, status),
            )
            if val is not None
        ]
        if since is not None:
            conds.append(c.started_at >= since)
        if until is not None:
            conds.append(c.started_at < until)
        cols = [
            c.trace_id,
            c.project,
            c.name,
            c.workflow,
            c.intent,
            c.domain,
            c.status,
            c.started_at,
            c.duration_ms,
            c.tokens_in,
            c.tokens_out,
            c.cost_usd,
            c.quality_score,
            c.gate_passed,
            c.flagged_for_review,
            c.input,
            c.error,
        ]
        q = select(*cols).where(and_(True, *conds)).order_by(c.started_at.desc(), c.trace_id).limit(limit)
        try:
            with self.read() as conn:
                result = conn.execute(q).all()
        except SQLAlchemyError as exc:
            raise StoreError(f"read from {database.safe_url(self.url)} failed: {database._short(exc)}") from None
        out = []
        for r in result:
            d = dict(r._mapping)
            d["started_at"] = d["started_at"].isoformat() + "Z" if d["started_at"] else None
            d["flagged_for_review"] = bool(d["flagged_for_review"])
            out.append(d)
        return out

    def spend_since(self, project: str, since: datetime) -> float:
        """Total cost of the project's traces started at or after ``since`` (naive UTC)."""
        with self.read() as conn:
            total = conn.execute(
                select(func.sum(traces.c.cost_usd)).where(traces.c.project == project, traces.c.started_at >= since)
            ).scalar()
        return float(total or 0.0)

    def counts(self) -> dict[str, int]:
        with self.read() as conn:
            return {
                t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (traces, *CHILD_TABLES, alerts)
            }

    def info(self) -> dict[str, Any]:
        """What `glassbox db info` prints: URL, backend, revision, row counts."""
        rev = database.current_revision(self.engine)
        out: dict[str, Any] = {
            "url": database.safe_url(self.url),
            "backend": self.dialect,
            "revision": rev,
            "head": database.HEAD_REVISION,
            "up_to_date": rev == database.HEAD_REVISION,
        }
        if rev is not None:
            out["rows"] = self.counts()
        if self.dialect == "sqlite":
            with self.engine.connect() as conn:
                out["journal_mode"] = conn.execute(text("PRAGMA journal_mode")).scalar_one()
        return out


def _order(table: Any) -> list[Any]:
    if table is spans:
        return [table.c.start_ns, table.c.span_id]
    return [table.c.at_ns, table.c.id]


class DatabaseSink:
    """Writer sink over a Store."""

    name = "database"

    def __init__(self, store: Store) -> None:
        self.store = store

    def write(self, traces: Sequence[Trace]) -> None:
        try:
            self.store.write_traces(traces)
        except StoreError as exc:
            if len(traces) == 1 or not getattr(exc, "data_error", False):
                raise
            # One bad trace must not lose the batch: write one by one, report what failed.
            failed = []
            for t in traces:
                try:
                    self.store.write_traces([t])
                except StoreError as one:
                    failed.append(f"{t.trace_id}: {one}")
            if failed:
                err = StoreError(f"{len(failed)} of {len(traces)} traces not written; first: {failed[0]}")
                err.data_error = True  # type: ignore[attr-defined]  # the rest are stored: retrying cannot help
                raise err from None

    def close(self) -> None:
        self.store.close()

    def after_fork(self) -> None:
        self.store.after_fork()
