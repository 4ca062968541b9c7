"""Prometheus rules for the SLOs (``glassbox slo rules``), in Sloth's naming, with promtool unit tests.

Recording rules per SLO (labels ``slo``, ``service``; SLI ratios also ``window``):
``slo:sli_error:ratio_rate{5m,30m,1h,2h,6h,1d,3d}`` from glassbox's ``/metrics`` series, the
period ratio ``slo:sli_error:ratio_rate30d`` (Sloth's average of the 5m ratio over the period),
``slo:objective:ratio``, ``slo:error_budget:ratio``, ``slo:time_period:days``,
``slo:current_burn_rate:ratio``, ``slo:period_burn_rate:ratio`` and
``slo:period_error_budget_remaining:ratio``. Alerting rules: ``GlassboxSLO<Name>Page`` (severity
``page``: 14.4x over 1h and 5m, or 6x over 6h and 30m) and ``…Ticket`` (``ticket``: 3x over 1d and 2h,
or 1x over 3d and 6h) — the same windows and factors as ``glassbox.monitoring.slo``.

SLIs from series: availability = failed runs / runs (``glassbox_traces_total``); latency = 1 - runs
(or stages) in the threshold's ``le`` bucket / all (``glassbox_trace_duration_seconds``,
``glassbox_stage_duration_seconds``); error_rate = runs that failed or had a failed stage / runs
(``glassbox_run_errors_total``); quality = runs below ``min_score`` / scored runs
(``glassbox_quality_score``: the bucket below ``min_score``, exact when scores sit on the histogram's
grid of tenths of the scale). ``ratio`` SLOs and trace filters other than the workflow have no series:
they are skipped, with the reason.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from glassbox.monitoring.buckets import prom_le, score_buckets
from glassbox.monitoring.slo import BURN_ALERTS, SLO, _label, window_length

RATE_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


def _sel(**labels: str | None) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items() if v is not None)
    return "{" + inner + "}" if inner else ""


def error_ratio_expr(slo: SLO, window: str) -> str | None:
    """PromQL for the SLO's error ratio over ``window``; None when no glassbox series measures it."""
    wf = slo.workflow
    if slo.sli == "availability":
        bad = f"sum(rate(glassbox_traces_total{_sel(workflow=wf, status='failed')}[{window}]))"
        total = f"sum(rate(glassbox_traces_total{_sel(workflow=wf)}[{window}]))"
    elif slo.sli == "error_rate":
        bad = f"sum(rate(glassbox_run_errors_total{_sel(workflow=wf)}[{window}]))"
        total = f"sum(rate(glassbox_traces_total{_sel(workflow=wf)}[{window}]))"
    elif slo.sli == "latency":
        name = "glassbox_stage_duration_seconds" if slo.stage else "glassbox_trace_duration_seconds"
        le = prom_le((slo.threshold_ms or 0) / 1000)
        good = f"sum(rate({name}_bucket{_sel(workflow=wf, stage=slo.stage, le=le)}[{window}]))"
        total = f"sum(rate({name}_count{_sel(workflow=wf, stage=slo.stage)}[{window}]))"
        return f"(1 - ({good} / {total}))"
    elif slo.sli == "quality":
        below = _below(slo.min_score or 0.0)
        if below is None:
            return f"(0 * sum(rate(glassbox_quality_score_count{_sel(workflow=wf)}[{window}])))"
        bad = f"sum(rate(glassbox_quality_score_bucket{_sel(workflow=wf, le=prom_le(below))}[{window}]))"
        total = f"sum(rate(glassbox_quality_score_count{_sel(workflow=wf)}[{window}]))"
    else:
        return None
    return f"(({bad} or vector(0)) / {total})"


def _below(min_score: float) -> float | None:
    """The largest quality bucket boundary under ``min_score`` (scores at or under it are below the SLO)."""
    for top in (1.0, 3.0, 5.0, 10.0, 100.0):
        edges = score_buckets(top)
        if any(math.isclose(min_score, e) for e in edges) or min_score <= top:
            under = [e for e in edges if e < min_score and not math.isclose(e, min_score)]
            return under[-1] if under else None
    return None


def why_skipped(slo: SLO) -> str | None:
    if slo.sli == "ratio":
        return "a ratio of trace filters has no metric series (it is checked from the store only)"
    extra = sorted(k for k in slo.filters if k != "workflow")
    if extra:
        return f"filter {extra[0]!r} is not a label of glassbox's metrics"
    if window_length(slo.window) is None:
        return "a calendar window has no fixed Prometheus range"
    return None


def _days(slo: SLO) -> float:
    length = window_length(slo.window)
    return length.total_seconds() / 86400 if length else 30.0


def _period(slo: SLO) -> str:
    d = _days(slo)
    return f"{d:g}d" if d == int(d) else f"{int(d * 24)}h"


def alert_name(slo: SLO, severity: str) -> str:
    camel = "".join(p[:1].upper() + p[1:] for p in slo.name.replace("-", "_").split("_") if p)
    return f"GlassboxSLO{camel}{severity.capitalize()}"


def rule_groups(slo: SLO) -> list[dict[str, Any]]:
    """The SLO's three rule groups (SLI recordings, metadata recordings, alerts), Sloth-style."""
    service = slo.service or slo.project or "glassbox"
    base = {"slo": slo.name, "service": service}
    sel = _sel(**base)
    period = _period(slo)
    sli = [
        {"record": f"slo:sli_error:ratio_rate{w}", "expr": error_ratio_expr(slo, w), "labels": {**base, "window": w}}
        for w in RATE_WINDOWS
    ]
    sli.append(
        {
            "record": f"slo:sli_error:ratio_rate{period}",
            "expr": f"sum_over_time(slo:sli_error:ratio_rate5m{sel}[{period}]) / ignoring (window) "
            f"count_over_time(slo:sli_error:ratio_rate5m{sel}[{period}])",
            "labels": {**base, "window": period},
        }
    )
    meta = [
        {"record": "slo:objective:ratio", "expr": f"vector({slo.objective!r})", "labels": base},
        {"record": "slo:error_budget:ratio", "expr": f"vector({1 - slo.objective!r})", "labels": base},
        {"record": "slo:time_period:days", "expr": f"vector({_days(slo):g})", "labels": base},
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate5m{sel} / on (slo, service) group_left slo:error_budget:ratio{sel}",
            "labels": base,
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate{period}{sel} / on (slo, service) group_left slo:error_budget:ratio{sel}",
            "labels": base,
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{sel}",
            "labels": base,
        },
    ]
    alerts = []
    budget = 1 - slo.objective
    for severity in ("page", "ticket"):
        parts = []
        for sev, lng, sht, factor in BURN_ALERTS:
            if sev != severity:
                continue
            limit = f"({factor:g} * {budget!r})"
            parts.append(
                f"(max(slo:sli_error:ratio_rate{_label(sht)}{sel} > {limit}) without (window) and "
                f"max(slo:sli_error:ratio_rate{_label(lng)}{sel} > {limit}) without (window))"
            )
        alerts.append(
            {
                "alert": alert_name(slo, severity),
                "expr": " or ".join(parts),
                "labels": {"severity": severity},
                "annotations": _annotations(slo, severity, service),
            }
        )
    name = f"glassbox-slo-{service}-{slo.name}"
    return [
        {"name": f"{name}-sli-recordings", "rules": sli},
        {"name": f"{name}-meta-recordings", "rules": meta},
        {"name": f"{name}-alerts", "rules": alerts},
    ]


def _series(slo: SLO, bad_share: float, per_min: int = 60) -> list[dict[str, str]]:
    """Input series for a promtool test: ``per_min`` runs a minute for 4 days, a share of them bad."""
    wf = slo.workflow or "qa"
    n = 4 * 24 * 60
    bad, good = round(per_min * bad_share), per_min - round(per_min * bad_share)

    def line(name: str, labels: dict[str, str], step: float) -> dict[str, str]:
        return {"series": f"{name}{_sel(**labels)}", "values": f"0+{step:g}x{n}"}

    if slo.sli in ("availability", "error_rate"):
        out = [
            line("glassbox_traces_total", {"workflow": wf, "status": "complete", "model_version": ""}, good),
            line("glassbox_traces_total", {"workflow": wf, "status": "failed", "model_version": ""}, bad),
        ]
        if slo.sli == "error_rate":
            out.append(line("glassbox_run_errors_total", {"workflow": wf, "model_version": ""}, bad))
        return out
    if slo.sli == "latency":
        name = "glassbox_stage_duration_seconds" if slo.stage else "glassbox_trace_duration_seconds"
        labels = {"workflow": wf, **({"stage": slo.stage} if slo.stage else {}), "model_version": ""}
        le = prom_le((slo.threshold_ms or 0) / 1000)
        return [
            line(f"{name}_bucket", {**labels, "le": le}, good),
            line(f"{name}_bucket", {**labels, "le": "+Inf"}, per_min),
            line(f"{name}_count", labels, per_min),
        ]
    below = _below(slo.min_score or 0.0)
    out = [line("glassbox_quality_score_count", {"workflow": wf}, per_min)]
    if below is not None:
        out.append(line("glassbox_quality_score_bucket", {"workflow": wf, "le": prom_le(below)}, bad))
    return out


def unit_tests(slos: list[SLO], rule_file: str) -> dict[str, Any]:
    """promtool tests: a steady 50 % error ratio pages (and tickets); a clean hour fires nothing."""
    tests = []
    for slo in slos:
        service = slo.service or slo.project or "glassbox"
        labels = {"slo": slo.name, "service": service}
        burning = {
            "interval": "1m",
            "input_series": _series(slo, 0.5),
            "promql_expr_test": [
                {
                    "expr": f"slo:sli_error:ratio_rate1h{_sel(**labels)}",
                    "eval_time": "2h",
                    "exp_samples": [
                        {"value": 0.5, "labels": f"slo:sli_error:ratio_rate1h{_sel(**labels, window='1h')}"}
                    ],
                },
                {
                    "expr": f"slo:error_budget:ratio{_sel(**labels)}",
                    "eval_time": "2h",
                    "exp_samples": [{"labels": f"slo:error_budget:ratio{_sel(**labels)}", "value": 1 - slo.objective}],
                },
            ],
            "alert_rule_test": [
                {
                    "eval_time": "2h",
                    "alertname": alert_name(slo, sev),
                    "exp_alerts": [
                        {"exp_labels": {**labels, "severity": sev}, "exp_annotations": _annotations(slo, sev, service)}
                    ],
                }
                for sev in ("page", "ticket")
            ],
        }
        clean = {
            "interval": "1m",
            "input_series": _series(slo, 0.0),
            "alert_rule_test": [
                {"eval_time": "2h", "alertname": alert_name(slo, sev), "exp_alerts": []} for sev in ("page", "ticket")
            ],
        }
        tests += [burning, clean]
    return {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}


def _annotations(slo: SLO, severity: str, service: str) -> dict[str, str]:
    return {
        "summary": f"SLO {slo.name} ({service}) is burning its error budget too fast",
        "title": f"{severity}: {slo.name} error budget burn rate is too high",
    }


def write_rules(slos: list[SLO], out: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Write ``glassbox-slo-rules.yml`` and ``glassbox-slo-rules.test.yml`` into ``out``; returns (paths, skipped)."""
    kept, skipped = [], []
    for slo in slos:
        why = why_skipped(slo)
        if why:
            skipped.append((slo.name, why))
        else:
            kept.append(slo)
    if not kept:
        from glassbox.monitoring.slo import SLOError

        raise SLOError("none of these SLOs can become Prometheus rules: " + "; ".join(f"{n}: {w}" for n, w in skipped))
    out.mkdir(parents=True, exist_ok=True)
    rules, tests = out / "glassbox-slo-rules.yml", out / "glassbox-slo-rules.test.yml"
    header = "# Generated by `glassbox slo rules` (Sloth naming); check: promtool check rules / promtool test rules\n"
    rules.write_text(header + to_yaml({"groups": [g for s in kept for g in rule_groups(s)]}), encoding="utf-8")
    tests.write_text(header + to_yaml(unit_tests(kept, rules.name)), encoding="utf-8")
    return [rules, tests], skipped


def to_yaml(value: Any, indent: int = 0) -> str:
    """A small YAML writer for rule files: block mappings and lists, every string double-quoted (JSON-escaped)."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return "{}\n"
        lines = []
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{k}:\n{to_yaml(v, indent + 1)}")
            else:
                lines.append(f"{pad}{k}: {_scalar(v)}\n")
        return "".join(lines)
    if isinstance(value, list):
        if not value:
            return "[]\n"
        lines = []
        for item in value:
            body = to_yaml(item, indent + 1) if isinstance(item, (dict, list)) and item else f"{_scalar(item)}\n"
            lines.append(f"{pad}- {body.lstrip()}" if isinstance(item, (dict, list)) else f"{pad}- {body}")
        return "".join(lines)
    return f"{pad}{_scalar(value)}\n"


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (dict, list)):
        return "{}" if isinstance(v, dict) else "[]"
    return json.dumps(str(v))


def toml_for(slos: list[SLO]) -> str:
    """``[[slo]]`` tables for glassbox.toml (``glassbox slo init``)."""
    out = ["# SLOs (docs/monitoring.md#slos): `glassbox slo status`, `glassbox slo check`, `glassbox slo rules`\n"]
    for s in slos:
        out.append("[[slo]]\n")
        for k, v in s.to_dict().items():
            out.append(f"{k} = {json.dumps(v) if not isinstance(v, dict) else _inline(v)}\n")
        out.append("\n")
    return "".join(out)


def _inline(d: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in d.items()) + " }"
