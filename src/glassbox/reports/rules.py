"""Recommendation rules: explicit, documented checks over a report's figures, each citing the figures it used
and linking the runs behind them. Pluggable like calibration rules::

    @gb.report_rule("slow_retrieval")
    def slow_retrieval(scope):          # a glassbox.reports.sections.Scope: query, period, project
        rows = scope.ask("latency", "stage")
        ...
        return [Recommendation("slow_retrieval", "warning", "…", {"p95_ms": …}, [("runs", scope.link())])]

A rule that raises is skipped (logged); the report still lists the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from glassbox.reports.model import Recommendation
from glassbox.reports.sections import Scope

log = logging.getLogger("glassbox")
Rule = Callable[[Scope], Iterable[Recommendation] | None]

# The documented thresholds (docs/reports.md lists them with the rules).
P95_RISE = 0.25  # a stage's p95 rose by a quarter or more…
P95_MIN_MS = 50.0  # …and by at least 50 ms
MIN_EXECUTIONS = 5  # executions of a stage in each period before its p95 is compared
COST_PER_QUALITY_RATIO = 2.0  # one model costs twice as much per quality point as another
MIN_SCORED_RUNS = 3
PRINCIPLE_FAIL_RATE = 0.3
PRINCIPLE_MIN_RUNS = 5
SUCCESS_DROP = 0.05  # five percentage points
MIN_RUNS = 10
COST_RISE = 0.2
STAGE_FAIL_RATE = 0.1
PAGE_BURN, TICKET_BURN = 6.0, 1.0  # SRE Workbook: 6x pages (with 14.4x), 1x tickets

_RULES: dict[str, Rule] = {}


def report_rule(name: str) -> Callable[[Rule], Rule]:
    """Register ``fn(scope) -> [Recommendation]`` as a recommendation rule of every report."""

    def register(fn: Rule) -> Rule:
        _RULES[name] = fn
        return fn

    return register


def rules() -> dict[str, Rule]:
    return dict(_RULES)


def recommend(scope: Scope, only: Iterable[str] | None = None) -> list[Recommendation]:
    """Every rule's recommendations, most severe first."""
    wanted = set(only) if only is not None else None
    out: list[Recommendation] = []
    for name, rule in _RULES.items():
        if wanted is not None and name not in wanted:
            continue
        try:
            out.extend(rule(scope) or [])
        except Exception:
            log.warning("glassbox: report rule %s failed", name, exc_info=True)
    rank = {"critical": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda r: rank.get(r.severity, 3))


def _ms(v: float) -> str:
    return f"{v:.0f} ms" if v < 1000 else f"{v / 1000:.2f} s"


@report_rule("stage_p95_rise")
def stage_p95_rise(scope: Scope) -> list[Recommendation]:
    before = {r["stage"]: r for r in scope.ask("latency", "stage", previous=True)}
    out = []
    for r in scope.ask("latency", "stage"):
        b = before.get(r["stage"])
        if not b or r["count"] < MIN_EXECUTIONS or b["count"] < MIN_EXECUTIONS or not b["p95_ms"]:
            continue
        rise = (r["p95_ms"] - b["p95_ms"]) / b["p95_ms"]
        if rise >= P95_RISE and r["p95_ms"] - b["p95_ms"] >= P95_MIN_MS:
            out.append(
                Recommendation(
                    "stage_p95_rise",
                    "warning",
                    f"Stage {r['stage']}'s p95 rose {100 * rise:.0f} % period over period "
                    f"({_ms(b['p95_ms'])} -> {_ms(r['p95_ms'])}, {r['count']} executions): look at what changed there.",
                    {"stage": r["stage"], "p95_ms": r["p95_ms"], "previous_p95_ms": b["p95_ms"], "rise": rise},
                    [("slowest runs", scope.link())],
                )
            )
    return out


@report_rule("model_cost_per_quality")
def model_cost_per_quality(scope: Scope) -> list[Recommendation]:
    models = [m for m in scope.ask("models") if m["cost_per_quality_point"] and m["scored_runs"] >= MIN_SCORED_RUNS]
    if len(models) < 2:
        return []
    cheap = min(models, key=lambda m: m["cost_per_quality_point"])
    dear = max(models, key=lambda m: m["cost_per_quality_point"])
    ratio = dear["cost_per_quality_point"] / cheap["cost_per_quality_point"]
    if ratio < COST_PER_QUALITY_RATIO:
        return []
    return [
        Recommendation(
            "model_cost_per_quality",
            "info",
            f"Model {dear['model']} costs {ratio:.1f}x per quality point of model {cheap['model']} "
            f"(${dear['avg_cost_per_run']:.4f} per run at quality {dear['avg_quality']:.2f} vs "
            f"${cheap['avg_cost_per_run']:.4f} at {cheap['avg_quality']:.2f}): "
            f"try routing more runs to {cheap['model']}.",
            {"expensive": dear, "cheap": cheap, "ratio": ratio},
            [("runs", scope.link())],
        )
    ]


@report_rule("principle_failure_by_domain")
def principle_failure_by_domain(scope: Scope) -> list[Recommendation]:
    out = []
    for r in scope.ask("principle_patterns", 1)["by_domain"]:
        if r["runs"] >= PRINCIPLE_MIN_RUNS and r["fail_rate"] >= PRINCIPLE_FAIL_RATE:
            out.append(
                Recommendation(
                    "principle_failure_by_domain",
                    "warning",
                    f"Principle {r['principle']} failed in {100 * r['fail_rate']:.0f} % of {r['domain']} runs "
                    f"({r['fail_count']} of {r['runs']}): review the prompts and sources for {r['domain']}.",
                    dict(r),
                    [(f"{r['domain']} runs", scope.link(domain=r["domain"]))],
                )
            )
    return out[:5]


@report_rule("success_rate_drop")
def success_rate_drop(scope: Scope) -> list[Recommendation]:
    now, before = scope.summary(), scope.summary(previous=True)
    if min(now["runs"], before["runs"]) < MIN_RUNS or None in (now["success_rate"], before["success_rate"]):
        return []
    drop = before["success_rate"] - now["success_rate"]
    if drop < SUCCESS_DROP:
        return []
    return [
        Recommendation(
            "success_rate_drop",
            "warning",
            f"Success rate fell {100 * drop:.1f} points ({100 * before['success_rate']:.1f} % -> "
            f"{100 * now['success_rate']:.1f} %, {now['failed']} failed runs): see the failing stages below.",
            {"success_rate": now["success_rate"], "previous": before["success_rate"], "failed": now["failed"]},
            [("failed runs", scope.link(status="failed"))],
        )
    ]


@report_rule("cost_per_run_rise")
def cost_per_run_rise(scope: Scope) -> list[Recommendation]:
    now, before = scope.summary()["avg_cost_usd"], scope.summary(previous=True)["avg_cost_usd"]
    if not now or not before or scope.summary()["runs"] < MIN_RUNS:
        return []
    rise = (now - before) / before
    if rise < COST_RISE:
        return []
    return [
        Recommendation(
            "cost_per_run_rise",
            "warning",
            f"Average cost per run rose {100 * rise:.0f} % (${before:.4f} -> ${now:.4f}): see cost by model and stage.",
            {"avg_cost_usd": now, "previous": before, "rise": rise},
            [("runs", scope.link())],
        )
    ]


@report_rule("unpriced_calls")
def unpriced_calls(scope: Scope) -> list[Recommendation]:
    n = scope.costs("day")["unpriced_calls"]
    if not n:
        return []
    return [
        Recommendation(
            "unpriced_calls",
            "info",
            f"{n} LLM call{'s' if n != 1 else ''} had no price (unknown model): add it under [prices] in glassbox.toml "
            "so totals are complete.",
            {"unpriced_calls": n},
            [("runs", scope.link())],
        )
    ]


@report_rule("failing_stage")
def failing_stage(scope: Scope) -> list[Recommendation]:
    out = []
    for f in scope.ask("failed_stages")[:3]:
        if (f["failure_rate"] or 0) < STAGE_FAIL_RATE:
            continue
        err = f["errors"][0] if f["errors"] else {}
        links = [("example run", f"/runs/{err['example_trace_id']}")] if err.get("example_trace_id") else []
        out.append(
            Recommendation(
                "failing_stage",
                "warning",
                f"Stage {f['stage']} failed {f['failures']} time{'s' if f['failures'] != 1 else ''} "
                f"({100 * f['failure_rate']:.0f} % of its executions), "
                f"most often {err.get('type') or 'with an error'}.",
                dict(f),
                [*links, ("failed runs", scope.link(status="failed"))],
            )
        )
    return out


@report_rule("slo_burn")
def slo_burn(scope: Scope) -> list[Recommendation]:
    out = []
    for d in getattr(scope, "slo_statuses", None) or []:
        rates = {w: r for w, r in (d.get("burn_rates") or {}).items() if r is not None}
        if not rates:
            continue
        window, rate = max(rates.items(), key=lambda kv: kv[1])
        if rate < TICKET_BURN:
            continue
        name = d["slo"].get("name")
        severity = "critical" if rate >= PAGE_BURN else "warning"
        out.append(
            Recommendation(
                "slo_burn",
                severity,
                f"SLO {name} burns its error budget at {rate:.1f}x over {window} "
                f"(budget left {100 * (d.get('budget_remaining') or 0):.0f} %): "
                + ("page-level, act now." if severity == "critical" else "open a ticket."),
                {"slo": name, "window": window, "burn_rate": rate, "budget_remaining": d.get("budget_remaining")},
                [("SLO page", "/slo")],
            )
        )
    return out


@report_rule("drift")
def drift(scope: Scope) -> list[Recommendation]:
    out = []
    for r in getattr(scope, "drift", None) or []:
        if not r.get("drifted") or r.get("severity") not in ("high", "critical"):
            continue
        seg = f" ({r['segment_by']}={r['segment']})" if r.get("segment") else ""
        out.append(
            Recommendation(
                "drift",
                "critical" if r["severity"] == "critical" else "warning",
                f"{r['field']}{seg} drifted ({r.get('method')} {r.get('score'):.3g}, severity {r['severity']}): "
                "compare recent runs with the reference before trusting its figures.",
                dict(r),
                [("drift", "/drift")],
            )
        )
    return out[:5]
