"""Assemble a report of a kind over a period: its sections (from the query API) and its recommendations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from glassbox.errors import QueryError
from glassbox.reports import sections as sec
from glassbox.reports.model import Report, Section
from glassbox.reports.period import Period
from glassbox.reports.rules import recommend

if TYPE_CHECKING:
    from glassbox.analysis.query import Query

KINDS = ("cost", "quality", "weekly", "experiment")
TITLES = {"cost": "Cost report", "quality": "Quality report", "weekly": "Weekly report"}
# Which recommendation rules each report runs (the weekly one runs them all).
RULES = {
    "cost": ("model_cost_per_quality", "cost_per_run_rise", "unpriced_calls"),
    "quality": ("principle_failure_by_domain", "success_rate_drop", "failing_stage", "stage_p95_rise"),
    "weekly": None,
}


def build(kind: str, q: Query, period: Period, *, project: str | None = None) -> Report:
    """The ``kind`` report (cost, quality or weekly) over ``period``; experiment reports: ``experiment_report``."""
    if kind not in TITLES:
        raise QueryError(f"report kind: expected one of {', '.join(TITLES)}, got {kind!r}")
    scope = sec.Scope(q, period, project)
    runs = scope.summary()["runs"]
    title = TITLES[kind] + (f": {project}" if project else "")
    report = Report(kind, title, period, project, datetime.now(UTC).replace(tzinfo=None), runs=runs)
    if runs == 0:
        report.sections = [
            Section(
                "No data",
                notes=[
                    f"No runs started in this period{f' in project {project}' if project else ''}. "
                    "Widen the period (--days, --since/--until) or check the store (--store)."
                ],
            )
        ]
        return report
    if kind == "cost":
        report.sections = sec.cost(scope)
    elif kind == "quality":
        report.sections = [*sec.quality(scope), sec.performance(scope)]
    else:
        cost_sections = sec.cost(scope)
        quality_sections = sec.quality(scope)
        report.sections = [
            sec.overview(scope),
            sec.queries(scope),
            cost_sections[0],
            *[s for s in cost_sections if s.title == "Cost by model"],
            quality_sections[0],
            *[s for s in quality_sections if s.title.startswith("Dimensions")],
            sec.performance(scope),
            sec.slos(scope),
            sec.drift(scope),
            sec.feedback(scope),
            sec.alerts(scope),
            sec.evaluation(scope),
        ]
    report.recommendations = recommend(scope, RULES[kind])
    return report
