"""How the segments of one trace merge into its run row, the same whatever order they arrive in.

A trace crossing services (or OTLP spans of one trace sent in several requests) reaches the store
as segments. The *primary* segment holds the run's real root (a root span without a remote parent);
the others continue a remote parent or are spans whose root is elsewhere. The rules, each
commutative, so any arrival order gives one row:

- times widen (earliest start, latest end); tokens and cost are summed over the trace's own spans;
- the cost source is the least trustworthy of all segments';
- run fields a continuing service may know (``FILLED``: workflow, input, user, …): the primary's value
  when it has one, else the smallest value among the other segments (a stable choice between services
  that disagree);
- the run's identity (``LEADING``: name, status, error, tags, metadata, root): the primary's; without a
  primary, the earliest-starting segment's (ties broken by root span id, then name).

``segment_fields`` on the row remembers which ``FILLED`` fields the primary set (bit 0: a primary
was stored), so a segment arriving after the primary never overrides it and one arriving before is
overridden by it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, literal_column, or_, select

from glassbox.store import dialect as sql
from glassbox.store.schema import spans, traces

FILLED = (
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
LEADING = ("name", "status", "error", "tags", "metadata", "root_span_id", "parent_span_id")
PRIMARY_STORED = 1
BITS = {name: 2 << i for i, name in enumerate(FILLED)}
# Least trustworthy first, as glassbox.cost.record orders cost sources (a test keeps the two equal).
COST_TRUST = ("unknown", "estimated", "priced", "provider")


def primary_fields(row: dict[str, Any]) -> int:
    """The ``segment_fields`` value of a primary segment's row: which FILLED fields it sets."""
    mask = PRIMARY_STORED
    for name, bit in BITS.items():
        if row.get(name) is not None:
            mask |= bit
    return mask


class MergeRules:
    """SET clauses of the trace upserts for one dialect."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    def least(self, a: Any, b: Any) -> Any:
        """The smaller of two values, NULL only when both are (store/dialect.py)."""
        return sql.least(self.dialect, a, b)

    def greatest(self, a: Any, b: Any) -> Any:
        return sql.greatest(self.dialect, a, b)

    def primary(self, ex: Any) -> dict[str, Any]:
        """A primary segment over a stored row: its fields win where it has them."""
        t = traces.c
        cols: dict[str, Any] = {c.name: ex[c.name] for c in traces.c if c.name != "trace_id"}
        cols.update({name: func.coalesce(ex[name], t[name]) for name in FILLED})
        cols["segment_fields"] = ex.segment_fields
        # Review state is set by people after the fact; a re-import must not erase it.
        cols["flagged_for_review"] = t.flagged_for_review | ex.flagged_for_review
        cols["review_notes"] = func.coalesce(t.review_notes, ex.review_notes)
        cols.update(self.shared(ex))
        return cols

    def partial(self, ex: Any) -> dict[str, Any]:
        """Another segment over a stored row: fills what the primary left empty, never overrides it."""
        t = traces.c
        cols: dict[str, Any] = {}
        for name, bit in BITS.items():
            cols[name] = case((t.segment_fields.op("&")(bit) != 0, t[name]), else_=self.least(t[name], ex[name]))
        no_primary = t.segment_fields.op("&")(PRIMARY_STORED) == 0
        root_t, root_x = func.coalesce(t.root_span_id, ""), func.coalesce(ex.root_span_id, "")
        start_t, start_x = func.coalesce(t.start_ns, 2**62), func.coalesce(ex.start_ns, 2**62)
        leads = and_(
            no_primary,
            or_(
                start_x < start_t,
                and_(start_x == start_t, root_x < root_t),
                and_(start_x == start_t, root_x == root_t, func.coalesce(ex.name, "") < func.coalesce(t.name, "")),
            ),
        )
        for name in LEADING:
            cols[name] = case((leads, ex[name]), else_=t[name])
        cols.update(self.shared(ex))
        return cols

    def _weakest_source(self, a: Any, b: Any) -> Any:
        def rank(x: Any) -> Any:
            return case(*[(x == name, i) for i, name in enumerate(COST_TRUST)], else_=len(COST_TRUST))

        return case((a.is_(None), b), (b.is_(None), a), (rank(b) < rank(a), b), else_=a)

    def shared(self, ex: Any) -> dict[str, Any]:
        """Clauses every segment applies alike: times widen, totals come from the trace's own spans."""
        t, s = traces.c, spans.c
        # The row being updated, named as SQL text: an INSERT does not correlate subqueries, so `traces.c.trace_id`
        # would add `traces` to the subquery's FROM and sum the spans of every trace in the store.
        own = s.trace_id == literal_column("traces.trace_id")
        start = self.least(t.start_ns, ex.start_ns)
        end = self.greatest(t.end_ns, ex.end_ns)
        return {
            "start_ns": start,
            "end_ns": end,
            "started_at": self.least(t.started_at, ex.started_at),
            "ended_at": self.greatest(t.ended_at, ex.ended_at),
            "duration_ms": (end - start) / 1e6,
            "cost_source": self._weakest_source(t.cost_source, ex.cost_source),
            "tokens_in": select(func.sum(s.tokens_in)).where(own).scalar_subquery(),
            "tokens_out": select(func.sum(s.tokens_out)).where(own).scalar_subquery(),
            "cost_usd": select(func.sum(s.cost_usd)).where(own).scalar_subquery(),
        }
