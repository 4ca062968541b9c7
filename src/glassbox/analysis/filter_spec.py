"""The trace filters, declared once: the query API, the CLI's options, the REST parameters and the dashboard.

Each face builds its own parameters from ``TRACE_FILTERS`` (``glassbox.cli.options.with_filters``,
``glassbox.server.api.trace_filters``, ``glassbox.server.web.FILTER_KEYS`` and the dashboard's filter
form, ``server/templates/_run_filters.html``), so a filter added here appears everywhere;
``glassbox.analysis.filters`` checks the values and turns them into SQL.
Light on purpose (no SQLAlchemy): the CLI reads it while building its commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from glassbox.model import TRACE_STATUSES

Kind = Literal["text", "choice", "time", "number", "flag", "list"]


@dataclass(frozen=True, slots=True)
class TraceFilter:
    """One filter: its query-API keyword, the kind of value, and its name on each face."""

    name: str  # keyword of the query API (Query.traces(workflow=...)) and of analysis.filters
    kind: Kind  # text/choice: one string; time: a date, date-time or span back; number; flag: bool; list: repeatable
    takes: str  # what the value is, for error messages
    help: str  # one line for `--help` and the OpenAPI description
    option: str = ""  # the CLI option (default: --name with dashes)
    param: str = ""  # the REST and dashboard query parameter (default: name)
    choices: tuple[str, ...] = ()
    placeholder: str = ""  # the dashboard form's hint, or a select's "any" option (default: the name, spaced)
    size: int = 0  # the dashboard input's width in characters (0: the browser's default)

    @property
    def cli_option(self) -> str:
        return self.option or "--" + self.name.replace("_", "-")

    @property
    def query_param(self) -> str:
        return self.param or self.name

    @property
    def form_placeholder(self) -> str:
        return self.placeholder or self.name.replace("_", " ")

    @property
    def form_options(self) -> tuple[tuple[str, str], ...]:
        """``(value, label)`` of the dashboard's select for a choice or a flag (the empty "any" option first)."""
        if self.kind == "flag":
            label = self.name.replace("_", " ")
            return (("", self.form_placeholder), ("true", label), ("false", f"not {label}"))
        return (("", self.form_placeholder), *((c, c) for c in self.choices))


class TraceFilters(tuple[TraceFilter, ...]):
    """The ordered set of trace filters, with lookups by each face's name."""

    __slots__ = ()

    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self)

    def by_param(self) -> dict[str, TraceFilter]:
        return {f.query_param: f for f in self}

    def equals(self) -> tuple[str, ...]:
        """Filters that compare a traces column for equality (same name as the column)."""
        return tuple(f.name for f in self if f.kind in ("text", "choice") and f.name != "text")


TRACE_FILTERS = TraceFilters(
    (
        TraceFilter("project", "text", "project name", "Only this project.", size=10),
        TraceFilter("workflow", "text", "workflow name", "Only this workflow."),
        TraceFilter("intent", "text", "intent", "Only this intent."),
        TraceFilter("domain", "text", "domain", "Only this domain."),
        TraceFilter(
            "status",
            "choice",
            f"one of {', '.join(TRACE_STATUSES)}",
            "complete, failed, incomplete or in_progress.",
            choices=TRACE_STATUSES,
            placeholder="any status",
        ),
        TraceFilter(
            "since",
            "time",
            "a date, a date-time (UTC) or a span back (7d, 24h)",
            "Started at or after: 2026-11-01, 2026-11-01T08:00 (UTC), or 7d, 24h, 30m ago.",
            placeholder="since (7d, 2026-11-01)",
            size=12,
        ),
        TraceFilter("until", "time", "same forms as since", "Started before (same forms as since).", size=10),
        TraceFilter("min_score", "number", "number (quality score at least)", "Quality score at least.", size=6),
        TraceFilter("max_score", "number", "number (quality score at most)", "Quality score at most.", size=6),
        TraceFilter(
            "flagged",
            "flag",
            "true/false (flagged for review)",
            "Only runs flagged (or not) for review.",
            option="--flagged/--not-flagged",
            placeholder="flagged or not",
        ),
        TraceFilter("tag", "list", "a tag the run carries", "Runs carrying this tag (repeat: all of them).", size=8),
        TraceFilter(
            "metadata",
            "list",
            "key=value (compared as text)",
            "metadata key=value (repeat: all of them).",
            option="--meta",
            param="meta",
            placeholder="meta key=value",
            size=14,
        ),
        TraceFilter(
            "text",
            "text",
            "text found in the input or output",
            "Text in the input or output (any case).",
            placeholder="text in input/output",
        ),
        TraceFilter("user_id", "text", "user id", "Only this user id.", option="--user", size=10),
        TraceFilter("session_id", "text", "session id", "Only this session id.", option="--session", size=10),
        TraceFilter("environment", "text", "environment", "Only this environment.", size=10),
        TraceFilter("release", "text", "release / model version", "Only this release / model version.", size=10),
        TraceFilter("experiment", "text", "experiment", "Only runs of this experiment.", size=10),
        TraceFilter("variant", "text", "experiment variant", "Only runs of this experiment variant.", size=8),
        TraceFilter("service", "text", "service name", "Only runs of this service.", size=10),
    )
)

__all__ = ["TRACE_FILTERS", "TraceFilter", "TraceFilters"]
