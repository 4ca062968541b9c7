"""What a report is made of: sections of figures (with the previous period's value), tables, charts and
recommendations. One shape, rendered to Markdown, HTML and JSON alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from glassbox.reports.period import Period

# How a figure's value is written: money, a share, a duration, a count, a score.
FORMATS = ("usd", "pct", "ms", "int", "num")


@dataclass
class Figure:
    """One number of the period, with the same number for the period before (None: not defined)."""

    label: str
    value: float | int | None
    previous: float | int | None = None
    fmt: str = "num"

    @property
    def delta(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return float(self.value) - float(self.previous)

    @property
    def delta_pct(self) -> float | None:
        if self.delta is None or not self.previous:
            return None
        return 100.0 * self.delta / abs(float(self.previous))

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value,
            "previous": self.previous,
            "delta": self.delta,
            "delta_pct": self.delta_pct,
            "format": self.fmt,
        }


@dataclass
class Table:
    """Rows under named columns; ``fmts`` says how to write each column; ``link`` names a column whose
    value is a run id (rendered as a link to the run)."""

    columns: list[str]
    rows: list[list[Any]]
    fmts: list[str] = field(default_factory=list)
    title: str | None = None
    link: str | None = None


@dataclass
class Chart:
    """A chart drawn by the HTML renderer: ``kind`` bar or line, one x axis, one or more named series."""

    title: str
    kind: str
    x: list[str]
    series: dict[str, list[float | None]]
    unit: str = ""


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    configured: bool = True  # False: the feature behind it is not set up ("not configured")


@dataclass
class Recommendation:
    """An action a reader can take, derived by a named rule from the figures it cites."""

    rule: str
    severity: str  # info, warning, critical
    message: str
    figures: dict[str, Any] = field(default_factory=dict)
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, dashboard path)


@dataclass
class Report:
    kind: str
    title: str
    period: Period
    project: str | None
    generated_at: datetime
    sections: list[Section] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    runs: int = 0  # runs in the period: 0 makes it a "no data" report

    @property
    def empty(self) -> bool:
        return self.runs == 0

    def executive_summary(self) -> str:
        """Two sentences a manager reads first (and the text a chat webhook gets)."""
        if self.empty:
            return f"No runs in {self.period.label}."
        figs = {f.label: f for s in self.sections for f in s.figures}
        parts = []
        for label, text in (
            ("runs", "{v} runs"),
            ("success rate", "{v} succeeded"),
            ("total cost", "cost {v}"),
            ("avg quality", "average quality {v}"),
        ):
            f = figs.get(label)
            if f is not None and f.value is not None:
                from glassbox.reports.render import delta, fmt

                parts.append(text.format(v=fmt(f.value, f.fmt)) + f" ({delta(f)})")
        worst = [r for r in self.recommendations if r.severity in ("critical", "warning")]
        tail = f"{len(self.recommendations)} recommendation{'s' if len(self.recommendations) != 1 else ''}" + (
            f", {len(worst)} to act on: {worst[0].message}" if worst else "."
        )
        return f"{self.title}, {self.period.label}: " + ", ".join(parts) + f". {tail}"

    def headline(self) -> dict[str, Any]:
        """The figures of the first section, for listings and chat summaries."""
        first = self.sections[0].figures if self.sections else []
        return {
            "runs": self.runs,
            "recommendations": len(self.recommendations),
            **{f.label: f.value for f in first[:6]},
        }

    def to_dict(self) -> dict[str, Any]:
        out = {
            "schema": "glassbox.report.v1",
            "kind": self.kind,
            "title": self.title,
            "project": self.project,
            "period": self.period.to_dict(),
            "previous_period": self.period.previous().to_dict(),
            "generated_at": self.generated_at.isoformat(),
            "runs": self.runs,
            "empty": self.empty,
            "sections": [],
            "recommendations": [asdict(r) for r in self.recommendations],
        }
        for s in self.sections:
            out["sections"].append(
                {
                    "title": s.title,
                    "configured": s.configured,
                    "notes": s.notes,
                    "figures": [f.to_dict() for f in s.figures],
                    "tables": [{"title": t.title, "columns": t.columns, "rows": t.rows} for t in s.tables],
                    "charts": [asdict(c) for c in s.charts],
                }
            )
        return out
