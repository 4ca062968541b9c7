"""Analysing an experiment from its runs: per-variant metrics, tests, SRM, corrections, guardrails, a verdict.

Defaults (and why): fixed-horizon tests (Welch's t for means, the pooled two-proportion z for rates,
the delta method for ratios) because they equal scipy/statsmodels and have the most power when the
sample size is planned up front (``glassbox exp power``); Holm across the primary metrics (controls the
chance of any false win, valid under any dependence between metrics); guardrails uncorrected (a
correction would make them less likely to block). ``sequential=True`` swaps every interval for an
always-valid confidence sequence, for teams that look at results while the experiment runs;
``cuped=True`` adjusts mean metrics by each unit's pre-period value of the same metric.
A sample-ratio mismatch (χ², p < 0.001) blocks every verdict.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import distinct, func, select

from glassbox.errors import NotFound
from glassbox.experiments import registry
from glassbox.experiments.metrics import Metric, Run, load_runs, metric, ratio_values, values
from glassbox.flags.definitions import ExperimentDef, Variant
from glassbox.store.schema import traces
from glassbox.store.tables.experiments import exposures

if TYPE_CHECKING:
    from glassbox.stats.results import TestResult
    from glassbox.store.store import Store

DECISIONS = ("ship", "keep_control", "blocked", "inconclusive", "invalid", "no_data")


@dataclass
class MetricResult:
    metric: str
    label: str
    kind: str
    variant: str
    control: str
    guardrail: bool
    value_control: float | None
    value_variant: float | None
    test: dict[str, Any] | None
    relative: dict[str, Any] | None = None
    adjusted_p: float | None = None
    significant: bool = False
    direction: str = "none"  # better | worse | none
    note: str | None = None


@dataclass
class Analysis:
    experiment: str
    definition: dict[str, Any]
    variants: list[dict[str, Any]]
    srm: dict[str, Any]
    results: list[MetricResult]
    guardrails: list[MetricResult]
    verdict: dict[str, Any]
    settings: dict[str, Any]
    power: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ExperimentNoData(NotFound):
    """No runs of that experiment are stored (and it is not defined)."""


def _definition(store: Store, name: str, runs: Sequence[Run], project: str) -> ExperimentDef:
    try:
        return registry.get(store, "experiment", name, project=project).definition  # type: ignore[return-value]
    except NotFound:
        pass
    for kind, raw in registry.read_toml():
        if kind == "experiment" and raw.get("name") == name:
            return registry.validate(kind, raw)  # type: ignore[return-value]
    seen = sorted({r.variant for r in runs}, key=lambda v: (v != "control", v))
    if len(seen) < 2:
        raise ExperimentNoData(
            f"experiment {name!r} is not defined and has {len(seen)} variant(s) in its runs: "
            f"nothing to compare (define it or record runs with gb.variant)"
        )
    return ExperimentDef(name, tuple(Variant(v, 1.0 / len(seen), v) for v in seen))


def _units(store: Store, name: str, by_variant: dict[str, list[Run]]) -> dict[str, int]:
    """Exposed units per variant: the exposures table when it has this experiment, else distinct run units."""
    e = exposures.c
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(e.variant, func.count(distinct(e.unit_id)))
            .where(e.experiment == name, e.kind == "experiment")
            .group_by(e.variant)
        ).all()
    if rows:
        return {v: int(n) for v, n in rows}
    out = {}
    for v, runs in by_variant.items():
        units = {r.unit for r in runs if r.unit is not None}
        out[v] = len(units) if units else len(runs)
    return out


def _bootstrap_quantile(a: list[float], b: list[float], q: float, confidence: float) -> TestResult:
    import numpy as np

    from glassbox.stats.results import TestResult

    rng = np.random.default_rng(0)  # seeded: the same data give the same report
    xa, xb = np.asarray(a), np.asarray(b)
    est = float(np.percentile(xb, q) - np.percentile(xa, q))
    boots = np.array(
        [np.percentile(rng.choice(xb, xb.size), q) - np.percentile(rng.choice(xa, xa.size), q) for _ in range(1000)]
    )
    lo, hi = np.percentile(boots, [50 * (1 - confidence), 50 * (1 + confidence)])
    p = float(min(1.0, 2 * min((boots <= 0).mean(), (boots >= 0).mean())))
    se = float(boots.std(ddof=1))
    return TestResult(
        "bootstrap_quantile",
        est / se if se else math.nan,
        p,
        est,
        float(lo),
        float(hi),
        confidence,
        int(xa.size),
        int(xb.size),
        {"q": q, "se": se},
    )


def _pre_period(store: Store, runs: Sequence[Run], days: float) -> dict[str, Run]:
    """Each unit's runs in the ``days`` before the experiment's first run, for CUPED (keyed by unit)."""
    units = sorted({r.unit for r in runs if r.unit is not None})
    starts = [r.started_at for r in runs if r.started_at is not None]
    if not units or not starts:
        return {}
    start = min(starts)
    t = traces.c
    out: dict[str, list[Run]] = defaultdict(list)
    with store.engine.connect() as conn:
        for i in range(0, len(units), 500):
            rows = conn.execute(
                select(t.user_id, t.status, t.duration_ms, t.cost_usd, t.quality_score, t.gate_passed).where(
                    t.user_id.in_(units[i : i + 500]),
                    t.started_at < start,
                    t.started_at >= start - timedelta(days=days),
                )
            ).all()
            for u, st, d, c, q, g in rows:
                out[u].append(Run("pre", u, st, d, c, q, g, None))
    return out  # type: ignore[return-value]


def _test(
    m: Metric, a: list[Run], b: list[Run], confidence: float, cuped_pre: dict[str, Any] | None
) -> tuple[TestResult | None, TestResult | None, float | None, float | None, str | None]:
    from glassbox.stats import ratio as ratio_stats
    from glassbox.stats.twosample import two_proportion_z, welch_t

    if m.kind == "ratio":
        na, da = ratio_values(a, m)
        nb, db = ratio_values(b, m)
        if len(na) < 2 or len(nb) < 2 or not sum(da) or not sum(db):
            return None, None, None, None, "not enough runs"
        t = ratio_stats.ratio_test(na, da, nb, db, confidence=confidence)
        rel = ratio_stats.ratio_test(na, da, nb, db, relative=True, confidence=confidence)
        return t, rel, t.extra["ratio_a"], t.extra["ratio_b"], None
    xa, xb = values(a, m), values(b, m)
    if len(xa) < 2 or len(xb) < 2:
        return None, None, None, None, "not enough runs"
    if m.kind == "proportion":
        sa, sb = int(sum(xa)), int(sum(xb))
        return two_proportion_z(sa, len(xa), sb, len(xb), confidence), None, sa / len(xa), sb / len(xb), None
    if m.kind == "quantile":
        import numpy as np

        t = _bootstrap_quantile(xa, xb, m.q, confidence)
        return t, None, float(np.percentile(xa, m.q)), float(np.percentile(xb, m.q)), None
    rel = ratio_stats.relative_lift(xa, xb, confidence)
    mean_a, mean_b = sum(xa) / len(xa), sum(xb) / len(xb)
    if cuped_pre is not None and m.value is not None:
        from glassbox.stats.cuped import cuped_test

        def cov(runs: list[Run]) -> tuple[list[float], list[float]]:
            ys, xs = [], []
            for r in runs:
                y = m.value(r)  # type: ignore[misc]
                if y is None:
                    continue
                pre = [v for v in (m.value(p) for p in cuped_pre.get(r.unit or "", [])) if v is not None]  # type: ignore[misc]
                ys.append(float(y))
                xs.append(sum(pre) / len(pre) if pre else math.nan)
            return ys, xs

        ya, ca = cov(a)
        yb, cb = cov(b)
        known = [x for x in ca + cb if not math.isnan(x)]
        if len(known) >= 2:
            fill = sum(known) / len(known)  # units without a pre-period get no adjustment
            ca = [fill if math.isnan(x) else x for x in ca]
            cb = [fill if math.isnan(x) else x for x in cb]
            return cuped_test(ya, ca, yb, cb, confidence), rel, mean_a, mean_b, None
    return welch_t(xa, xb, confidence), rel, mean_a, mean_b, None


def _as_dict(t: TestResult | None) -> dict[str, Any] | None:
    if t is None:
        return None
    d = t.as_dict()
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def _power_note(m: Metric, a: list[Run], n_b: int, alpha: float) -> dict[str, Any]:
    """Achieved power to detect a 10% relative change of the first primary metric at the current sample size."""
    from glassbox.stats.power import power_means, power_proportions

    xs = values(a, m) if m.value is not None else []
    if len(xs) < 2 or n_b < 2:
        return {}
    mean = sum(xs) / len(xs)
    n_a = len(xs)
    try:
        if m.kind == "proportion" and 0 < mean < 1:
            target = min(mean * 1.1, 0.999)
            return {
                "metric": m.name,
                "relative_mde": 0.1,
                "power": power_proportions(mean, target, n_a, alpha, n_b / n_a),
            }
        if m.kind == "mean":
            sd = (sum((x - mean) ** 2 for x in xs) / (n_a - 1)) ** 0.5
            if sd > 0 and mean:
                return {
                    "metric": m.name,
                    "relative_mde": 0.1,
                    "power": power_means(abs(mean) * 0.1, sd, n_a, alpha, n_b / n_a),
                }
    except ValueError:
        return {}
    return {}


def analyze(
    store: Store,
    name: str,
    *,
    project: str = "default",
    sequential: bool = False,
    cuped: bool = False,
    pre_days: float = 14.0,
    alpha: float | None = None,
    correction: str | None = None,
    since: Any = None,
    until: Any = None,
) -> Analysis:
    """The whole analysis of one experiment (see the module docstring for the methods and defaults)."""
    from glassbox.analysis.query import Query
    from glassbox.stats.multiple import adjust
    from glassbox.stats.sequential import confidence_sequence
    from glassbox.stats.srm import srm_test

    store.ready()
    q = Query(store)
    runs = load_runs(q, name, since=since, until=until)
    exp = _definition(store, name, runs, project)
    a_level = exp.alpha if alpha is None else float(alpha)
    method = exp.correction if correction is None else correction
    confidence = 1.0 - a_level
    by_variant: dict[str, list[Run]] = {v.key: [] for v in exp.variants}
    for r in runs:
        if r.variant in by_variant:
            by_variant[r.variant].append(r)
    units = _units(store, name, by_variant)
    counts = [units.get(v.key, 0) for v in exp.variants]
    srm = srm_test(counts, exp.weights)
    total = sum(counts)
    variants = [
        {
            "key": v.key,
            "weight": v.weight,
            "runs": len(by_variant[v.key]),
            "units": c,
            "share": (c / total) if total else None,
        }
        for v, c in zip(exp.variants, counts, strict=True)
    ]
    settings = {
        "alpha": a_level,
        "correction": method,
        "sequential": sequential,
        "cuped": cuped,
        "confidence": confidence,
        "unit_of_analysis": "run",
    }
    pre = _pre_period(store, runs, pre_days) if cuped else None
    control = exp.variants[0].key
    primary: list[MetricResult] = []
    guards: list[MetricResult] = []
    for v in exp.variants[1:]:
        for names, out, is_guard in ((exp.metrics, primary, False), (exp.guardrails, guards, True)):
            for mname in names:
                m = metric(mname)
                t, rel, va, vb, note = _test(
                    m, by_variant[control], by_variant[v.key], confidence, pre if m.kind == "mean" else None
                )
                if t is not None and sequential:
                    t = confidence_sequence(t)
                    rel = confidence_sequence(rel) if rel is not None else None
                out.append(
                    MetricResult(
                        m.name, m.label, m.kind, v.key, control, is_guard, va, vb, _as_dict(t), _as_dict(rel), note=note
                    )
                )
    testable = [r for r in primary if r.test is not None and r.test.get("p_value") is not None]
    if testable:
        rejected, adjusted = adjust([r.test["p_value"] for r in testable], method, a_level)  # type: ignore[index]
        for r, rej, adj in zip(testable, rejected, adjusted, strict=True):
            r.adjusted_p, r.significant = adj, rej
    for r in guards:
        p = r.test.get("p_value") if r.test else None
        r.adjusted_p = p
        r.significant = p is not None and p <= a_level
    for r in primary + guards:
        if r.significant and r.test is not None:
            up = r.test["estimate"] > 0
            r.direction = "better" if up == metric(r.metric).higher_is_better else "worse"
    verdict = _verdict(exp, runs, srm.alarm, primary, guards, srm.p_value)
    power = (
        _power_note(metric(exp.metrics[0]), by_variant[control], len(by_variant[exp.variants[1].key]), a_level)
        if exp.metrics and runs
        else {}
    )
    return Analysis(name, exp.to_dict(), variants, srm.as_dict(), primary, guards, verdict, settings, power)


def _verdict(
    exp: ExperimentDef,
    runs: Sequence[Run],
    srm_alarm: bool,
    primary: list[MetricResult],
    guards: list[MetricResult],
    srm_p: float,
) -> dict[str, Any]:
    if not runs:
        return {
            "decision": "no_data",
            "winner": None,
            "confidence": None,
            "reasons": ["no runs recorded in this experiment yet"],
        }
    if srm_alarm:
        return {
            "decision": "invalid",
            "winner": None,
            "confidence": None,
            "reasons": [
                f"sample ratio mismatch (p = {srm_p:.2g} < 0.001): units are not split as the weights "
                "say, so no estimate can be trusted; check assignment and exposure logging"
            ],
        }
    reasons: list[str] = []
    best: tuple[float, str] | None = None
    blocked: list[str] = []
    control_wins = False
    for v in exp.variants[1:]:
        mine = [r for r in primary if r.variant == v.key]
        better = [r for r in mine if r.direction == "better"]
        worse = [r for r in mine if r.direction == "worse"]
        failed = [r for r in guards if r.variant == v.key and r.direction == "worse"]
        if failed:
            reasons.append(
                f"{v.key}: guardrail{'s' if len(failed) > 1 else ''} "
                f"{', '.join(r.label for r in failed)} significantly worse"
            )
        if worse:
            reasons.append(f"{v.key}: worse on {', '.join(r.label for r in worse)}")
            control_wins = True
        if better and not worse:
            if failed:
                blocked.append(v.key)
                continue
            conf = 1.0 - min(r.adjusted_p or 1.0 for r in better)
            reasons.append(f"{v.key}: better on {', '.join(r.label for r in better)}")
            if best is None or conf > best[0]:
                best = (conf, v.key)
    if best is not None:
        return {"decision": "ship", "winner": best[1], "confidence": best[0], "reasons": reasons}
    if blocked:
        return {"decision": "blocked", "winner": None, "confidence": None, "blocked": blocked, "reasons": reasons}
    if control_wins:
        return {"decision": "keep_control", "winner": exp.control, "confidence": None, "reasons": reasons}
    return {
        "decision": "inconclusive",
        "winner": None,
        "confidence": None,
        "reasons": reasons or ["no metric differs significantly between the variants"],
    }
