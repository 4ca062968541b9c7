"""The sections of the reports, each read from the query API (and the monitoring, evaluation and experiment
modules where they are set up). A section whose feature is not configured says so instead of failing."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from glassbox.reports.model import Chart, Figure, Section, Table
from glassbox.reports.period import Period

if TYPE_CHECKING:
    from glassbox.analysis.query import Query

log = logging.getLogger("glassbox")
RECENT = 10  # runs listed in a report's "recent runs" tables


class Scope:
    """The query, period and project a report is built over, with each query answered once."""

    def __init__(self, q: Query, period: Period, project: str | None) -> None:
        self.q, self.period, self.project = q, period, project
        self._cache: dict[tuple[Any, ...], Any] = {}

    def filters(self, previous: bool = False, **more: Any) -> dict[str, Any]:
        p = self.period.previous() if previous else self.period
        out = {**p.filters(), **more}
        if self.project:
            out["project"] = self.project
        return out

    def ask(self, method: str, *args: Any, previous: bool = False, **kwargs: Any) -> Any:
        key = (method, args, previous, tuple(sorted(kwargs.items())))
        if key not in self._cache:
            self._cache[key] = getattr(self.q, method)(*args, **self.filters(previous), **kwargs)
        return self._cache[key]

    def summary(self, previous: bool = False) -> dict[str, Any]:
        return self.ask("summary", previous=previous)

    def costs(self, by: str, previous: bool = False) -> dict[str, Any]:
        key = ("cost_report", by, previous)
        if key not in self._cache:
            from glassbox.analysis.costs import cost_report

            p = self.period.previous() if previous else self.period
            self._cache[key] = cost_report(
                self.q.store, days=p.days, until=p.until, by=by, project=self.project, limit=20
            ).to_dict()
        return self._cache[key]

    def link(self, path: str = "/runs", **params: Any) -> str:
        from urllib.parse import urlencode

        query = {
            "since": self.period.since.isoformat(timespec="seconds"),
            "until": self.period.until.isoformat(timespec="seconds"),
            **params,
        }
        if self.project:
            query["project"] = self.project
        return f"{path}?{urlencode({k: v for k, v in query.items() if v is not None})}"


def _fig(scope: Scope, label: str, key: str, fmt: str) -> Figure:
    return Figure(label, scope.summary()[key], scope.summary(previous=True)[key], fmt)


def _recent(scope: Scope, **extra: Any) -> Table:
    items = scope.q.traces(limit=RECENT, **scope.filters(**extra)).items
    return Table(
        ["run", "started", "workflow", "status", "duration", "cost", "quality", "gate"],
        [
            [
                r["trace_id"],
                (r.get("started_at") or "")[:16].replace("T", " "),
                r.get("workflow") or r.get("name"),
                r["status"],
                r.get("duration_ms"),
                r.get("cost_usd"),
                r.get("quality_score"),
                {True: "pass", False: "fail"}.get(r.get("gate_passed"), "—"),
            ]
            for r in items
        ],
        ["id", "text", "text", "text", "ms", "usd", "num", "text"],
        "Recent runs",
        link="run",
    )


def overview(scope: Scope) -> Section:
    return Section(
        "Summary",
        [
            _fig(scope, "runs", "runs", "int"),
            _fig(scope, "success rate", "success_rate", "pct"),
            _fig(scope, "total cost", "total_cost_usd", "usd"),
            _fig(scope, "avg cost per run", "avg_cost_usd", "usd"),
            _fig(scope, "avg quality", "avg_quality", "num"),
            _fig(scope, "gate pass rate", "pass_rate", "pct"),
            _fig(scope, "p95 duration", "p95_duration_ms", "ms"),
            _fig(scope, "flagged for review", "flagged", "int"),
        ],
    )


def cost(scope: Scope) -> list[Section]:
    now, before = scope.costs("day"), scope.costs("day", previous=True)
    totals = Section(
        "Cost",
        [
            Figure("total cost", now["cost_usd"], before["cost_usd"], "usd"),
            Figure("runs", now["runs"], before["runs"], "int"),
            Figure("avg cost per run", now["avg_cost_per_run"], before["avg_cost_per_run"], "usd"),
            Figure("cheapest run", now["min_run_cost"], before["min_run_cost"], "usd"),
            Figure("most expensive run", now["max_run_cost"], before["max_run_cost"], "usd"),
            Figure("tokens in", now["tokens_in"], before["tokens_in"], "int"),
            Figure("tokens out", now["tokens_out"], before["tokens_out"], "int"),
            Figure("unpriced LLM calls", now["unpriced_calls"], before["unpriced_calls"], "int"),
        ],
    )
    sources = now.get("sources") or {}
    if sources:
        totals.tables.append(
            Table(
                ["cost source", "runs"],
                [[k, v] for k, v in sorted(sources.items())],
                ["text", "int"],
                "Where the costs come from",
            )
        )
        totals.notes.append(
            "priced: from genai-prices (or your overrides); provider: the provider's own figure; "
            "estimated: tokens counted from text; unknown: no price for the model."
        )
    daily = now.get("daily") or []
    if daily:
        totals.charts.append(
            Chart(
                "Cost per day",
                "bar",
                [d["day"] for d in daily],
                {"cost (USD)": [d.get("cost_usd") for d in daily]},
                "USD",
            )
        )
    out = [totals]
    for by, title, what in (
        ("model", "Cost by model", "calls"),
        ("stage", "Cost by stage", "calls"),
        ("workflow", "Cost by workflow (subsystem)", "runs"),
    ):
        groups = scope.costs(by)["groups"]
        if not groups:
            continue
        out.append(
            Section(
                title,
                tables=[
                    Table(
                        [by, what, "cost", "share", "avg", "min", "max", "tokens in", "tokens out"],
                        [
                            [
                                g["key"] or "—",
                                g["count"],
                                g["cost_usd"],
                                g["share"],
                                g["avg_cost_usd"],
                                g["min_cost_usd"],
                                g["max_cost_usd"],
                                g["tokens_in"],
                                g["tokens_out"],
                            ]
                            for g in groups
                        ],
                        ["text", "int", "usd", "pct", "usd", "usd", "usd", "int", "int"],
                    )
                ],
            )
        )
    models = scope.ask("models")
    if models:
        out[-1 if len(out) == 1 else 1].tables.append(
            Table(
                ["model", "runs", "avg cost per run", "avg quality", "cost per quality point"],
                [
                    [m["model"], m["runs"], m["avg_cost_per_run"], m["avg_quality"], m["cost_per_quality_point"]]
                    for m in models
                ],
                ["text", "int", "usd", "num", "usd"],
                "Cost per quality point",
            )
        )
    out.append(Section("Recent runs", tables=[_recent(scope)]))
    return out


def quality(scope: Scope) -> list[Section]:
    head = Section(
        "Quality",
        [
            _fig(scope, "avg quality", "avg_quality", "num"),
            _fig(scope, "gate pass rate", "pass_rate", "pct"),
            _fig(scope, "success rate", "success_rate", "pct"),
            _fig(scope, "runs", "runs", "int"),
            _fig(scope, "flagged for review", "flagged", "int"),
        ],
    )
    trend = scope.q.quality_trend(days=scope.period.days, **{**scope.filters(), "since": scope.period.since})
    if trend:
        head.charts.append(
            Chart(
                "Quality per day",
                "line",
                [r["day"] for r in trend],
                {"avg quality": [r["avg_quality"] for r in trend], "pass rate": [r["pass_rate"] for r in trend]},
            )
        )
    patterns = scope.ask("principle_patterns", 1)
    dims = patterns["overall"]
    out = [head]
    if dims:
        before = {r["principle"]: r for r in scope.ask("principle_patterns", 1, previous=True)["overall"]}
        out.append(
            Section(
                "Dimensions (principles)",
                tables=[
                    Table(
                        ["dimension", "runs", "avg", "previous avg", "failed", "fail rate"],
                        [
                            [
                                r["principle"],
                                r["runs"],
                                r["avg"],
                                (before.get(r["principle"]) or {}).get("avg"),
                                r["fail_count"],
                                r["fail_rate"],
                            ]
                            for r in sorted(dims, key=lambda r: r["principle"])
                        ],
                        ["text", "int", "num", "num", "int", "pct"],
                    )
                ],
                notes=[
                    f"A dimension fails in a run when it scores below {patterns['threshold']:g} x its score's maximum."
                ],
            )
        )
    groups = scope.ask("group_by", "workflow", ("runs", "avg_quality", "pass_rate", "success_rate", "avg_cost_usd"))
    if groups:
        out.append(
            Section(
                "By workflow (subsystem)",
                tables=[
                    Table(
                        ["workflow", "runs", "avg quality", "pass rate", "success rate", "avg cost"],
                        [
                            [
                                g["workflow"] or "—",
                                g["runs"],
                                g["avg_quality"],
                                g["pass_rate"],
                                g["success_rate"],
                                g["avg_cost_usd"],
                            ]
                            for g in groups
                        ],
                        ["text", "int", "num", "pct", "pct", "usd"],
                    )
                ],
            )
        )
    out.append(Section("Recent runs", tables=[_recent(scope)]))
    return out


def performance(scope: Scope) -> Section:
    rows = scope.ask("latency", "stage")
    before = {r["stage"]: r for r in scope.ask("latency", "stage", previous=True)}
    sec = Section(
        "Performance",
        [
            _fig(scope, "avg duration", "avg_duration_ms", "ms"),
            _fig(scope, "p50 duration", "p50_duration_ms", "ms"),
            _fig(scope, "p95 duration", "p95_duration_ms", "ms"),
            _fig(scope, "p99 duration", "p99_duration_ms", "ms"),
        ],
    )
    if rows:
        sec.tables.append(
            Table(
                ["stage", "executions", "p50", "p95", "previous p95", "p99"],
                [
                    [
                        r["stage"],
                        r["count"],
                        r["p50_ms"],
                        r["p95_ms"],
                        (before.get(r["stage"]) or {}).get("p95_ms"),
                        r["p99_ms"],
                    ]
                    for r in rows[:15]
                ],
                ["text", "int", "ms", "ms", "ms", "ms"],
                "Slowest stages",
            )
        )
    failures = scope.ask("failed_stages")
    if failures:
        sec.tables.append(
            Table(
                ["stage", "failures", "failure rate", "top error", "example run"],
                [
                    [
                        f["stage"],
                        f["failures"],
                        f["failure_rate"],
                        (f["errors"][0]["type"] if f["errors"] else None),
                        (f["errors"][0]["example_trace_id"] if f["errors"] else None),
                    ]
                    for f in failures[:10]
                ],
                ["text", "int", "pct", "text", "id"],
                "Failing stages",
                link="example run",
            )
        )
    return sec


def queries(scope: Scope) -> Section:
    """Query analysis: what was asked (intents, domains) and how each fared."""
    sec = Section("Query analysis")
    for dim in ("workflow", "intent", "domain"):
        rows = scope.ask("group_by", dim, ("runs", "success_rate", "avg_quality"))
        if rows:
            sec.tables.append(
                Table(
                    [dim, "runs", "success rate", "avg quality"],
                    [[r[dim] or "—", r["runs"], r["success_rate"], r["avg_quality"]] for r in rows[:12]],
                    ["text", "int", "pct", "num"],
                    f"By {dim}",
                )
            )
    return sec


def _not_configured(title: str, how: str) -> Section:
    return Section(title, notes=[f"Not configured: {how}"], configured=False)


def slos(scope: Scope) -> Section:
    try:
        from glassbox.monitoring import slo as slo_mod

        defined = slo_mod.load()
    except Exception as exc:  # noqa: BLE001 - a report never fails because one feature cannot answer
        log.debug("report: SLOs unavailable: %s", exc)
        defined = []
    if not defined:
        return _not_configured("SLOs", "declare [[slo]] in glassbox.toml (`glassbox slo init` writes defaults).")
    statuses = slo_mod.check(scope.q.store, defined, alert=False)
    scope.slo_statuses = [st.to_dict() for st in statuses]  # type: ignore[attr-defined]  # for the burn rule
    rows = []
    for d in scope.slo_statuses:  # type: ignore[attr-defined]
        burns = [v for v in (d.get("burn_rates") or {}).values() if v is not None]
        rows.append(
            [
                d["slo"].get("name"),
                d.get("sli"),
                d.get("objective"),
                d.get("budget_remaining"),
                max(burns, default=None),
                ", ".join(d.get("firing") or []) or "—",
            ]
        )
    return Section(
        "SLOs",
        tables=[
            Table(
                ["SLO", "SLI", "objective", "budget left", "worst burn rate", "alerts firing"],
                rows,
                ["text", "pct", "pct", "pct", "num", "text"],
            )
        ],
    )


def drift(scope: Scope) -> Section:
    try:
        from glassbox.monitoring import drift as drift_mod

        latest = drift_mod.latest(scope.q.store, project=scope.project)
    except Exception as exc:  # noqa: BLE001
        log.debug("report: drift unavailable: %s", exc)
        latest = []
    if not latest:
        return _not_configured("Drift", "run `glassbox drift check` (or let `glassbox serve` run it hourly).")
    scope.drift = latest  # type: ignore[attr-defined]  # for the drift rule
    rows = [
        [
            r.get("field"),
            r.get("segment") or "overall",
            r.get("method"),
            r.get("score"),
            "yes" if r.get("drifted") else "no" if r.get("status") != "not_enough_data" else "not enough data",
            r.get("severity"),
        ]
        for r in latest
    ]
    drifted = sum(1 for r in latest if r.get("drifted"))
    return Section(
        "Drift",
        [Figure("fields drifted", drifted, None, "int")],
        tables=[
            Table(
                ["field", "segment", "test", "score", "drifted", "severity"],
                rows,
                ["text", "text", "text", "num", "text", "text"],
            )
        ],
    )


def feedback(scope: Scope) -> Section:
    s, p = scope.summary(), scope.summary(previous=True)
    keys = [k for k in ("feedback", "avg_rating", "positive_share") if k in s]
    if not keys or not s.get(keys[0]):
        return _not_configured("User feedback", "no feedback in this period (gb.feedback(trace_id, rating=…)).")
    fmts = {"feedback": "int", "avg_rating": "num", "positive_share": "pct"}
    sec = Section("User feedback", [Figure(k.replace("_", " "), s.get(k), p.get(k), fmts[k]) for k in keys])
    extra = tuple(k for k in ("avg_rating", "positive_share") if k in _metrics())
    rows = scope.ask("group_by", "release", ("runs", *extra))
    if rows and len(rows[0]) > 2:
        cols = [c for c in rows[0] if c != "release"]
        sec.tables.append(
            Table(
                ["release", *cols],
                [[r["release"] or "—", *[r[c] for c in cols]] for r in rows],
                ["text", *["int" if c == "runs" else "pct" if "share" in c else "num" for c in cols]],
                "By release (model version)",
            )
        )
    return sec


def _metrics() -> tuple[str, ...]:
    from glassbox.analysis.query import METRICS

    return tuple(METRICS)


def alerts(scope: Scope) -> Section:
    try:
        from glassbox.store.alerts import list_alerts

        found = list_alerts(scope.q.store, project=scope.project, since=scope.period.since, limit=500)
    except Exception as exc:  # noqa: BLE001
        log.debug("report: alerts unavailable: %s", exc)
        return _not_configured("Alerts", "the alerts table cannot be read.")
    until_ns = _naive_ns(scope.period.until)
    rows = [[a.source, a.rule, a.severity, a.message, a.trace_id] for a in found if (a.at_ns or 0) < until_ns]
    sec = Section("Alerts", [Figure("alerts", len(rows), None, "int")])
    if rows:
        sec.tables.append(
            Table(
                ["source", "rule", "severity", "message", "run"],
                rows[:25],
                ["text", "text", "text", "text", "id"],
                link="run",
            )
        )
    return sec


def _naive_ns(d: Any) -> int:
    from datetime import UTC

    return int(d.replace(tzinfo=UTC).timestamp() * 1e9)


def evaluation(scope: Scope) -> Section:
    try:
        from sqlalchemy import select

        from glassbox.store.tables.evaluation import release_verdicts

        c = release_verdicts.c
        cond = [c.at >= scope.period.since, c.at < scope.period.until]
        if scope.project:
            cond.append(c.project == scope.project)
        with scope.q.store.ready().engine.connect() as conn:
            rows = conn.execute(
                select(c.at, c.kind, c.name, c.verdict, c.score, c.reasons).where(*cond).order_by(c.at.desc()).limit(20)
            ).all()
    except Exception as exc:  # noqa: BLE001
        log.debug("report: release verdicts unavailable: %s", exc)
        rows = []
    if not rows:
        return _not_configured(
            "Release gates and canaries",
            "no gate or canary verdict in this period (`glassbox gate`, `glassbox canary check`).",
        )

    def reason(value: Any) -> str:
        if isinstance(value, list) and value:
            first = value[0]
            return str(first.get("message", first)) if isinstance(first, dict) else str(first)
        return ""

    table = Table(
        ["when", "kind", "name", "verdict", "score", "first reason"],
        [
            [str(at)[:16], kind, name or "—", verdict, score, reason(reasons)]
            for at, kind, name, verdict, score, reasons in rows
        ],
        ["text", "text", "text", "text", "num", "text"],
    )
    return Section("Release gates and canaries", tables=[table])
