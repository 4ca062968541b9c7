"""Release gates: two populations of traces compared metric by metric, each with a test suited to it.

- error rate: two-proportion z test (failed / finished runs);
- latency and cost: Mann-Whitney U with the Hodges-Lehmann shift and its 98 % CI, after Tukey IQR
  outlier removal (as Kayenta's NetflixACAJudge, but with fences from both samples pooled, which keeps
  the test's false-positive rate at alpha); latency percentiles (p50/p95/p99) by distribution-free
  order-statistic intervals;
- quality: Welch's t on the mean quality score.

Each metric is classified ``High`` / ``Low`` / ``Pass`` (or ``NoData``): High or Low only when the
interval excludes no change *and* the change is beyond the metric's tolerance band; a change in the
metric's bad direction fails it. The verdict: any required metric without enough data ->
``not_enough_data`` (never a pass); a failing critical metric -> ``fail``; otherwise the weighted
share of passing metrics (0-100) against the pass / marginal thresholds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from glassbox.errors import GlassboxError, QueryError

if TYPE_CHECKING:
    import numpy as np
    from sqlalchemy import Connection
    from sqlalchemy.sql.elements import ColumnElement

    from glassbox.store.store import Store

_FINISHED = ("complete", "failed")  # the statuses of runs a gate counts (in SQLite's order of an IN list)
METRIC_NAMES = ("error_rate", "latency", "latency_p50", "latency_p95", "latency_p99", "cost", "quality")
_BAD_DIRECTION = {"quality": "decrease"}  # every other metric is worse when it grows
_SELECTORS = {
    "release": "release",
    "model_version": "release",
    "version": "release",
    "model": "release",
    "experiment": "experiment",
    "variant": "variant",
    "tag": "tag",
    "since": "since",
    "until": "until",
    "workflow": "workflow",
    "environment": "environment",
    "env": "environment",
    "project": "project",
    "service": "service",
    "intent": "intent",
    "domain": "domain",
}


class GateError(GlassboxError):
    """A gate was asked wrongly: a tolerance or population that does not parse, an unknown metric."""


# -- parsing -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tolerance:
    """An allowed change: ``value`` in the metric's units, or a fraction of the baseline when ``relative``."""

    value: float
    relative: bool
    text: str

    def __str__(self) -> str:
        return self.text


_TOL = re.compile(r"^([+-]?)\s*(\d+(?:\.\d*)?|\.\d+)\s*(pp|%|ms|s|usd|\$)?$", re.IGNORECASE)


def parse_tolerance(text: str | float, option: str = "tolerance") -> Tolerance:
    """``+1pp`` (percentage points), ``+20%`` (of the baseline), ``-0.05`` / ``+150ms`` / ``+0.5s`` (absolute)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return Tolerance(float(text), False, f"{text:+g}")
    raw = str(text).strip()
    m = _TOL.match(raw)
    if not m:
        raise GateError(f"{option}: expected a change like +1pp, +20%, +150ms or -0.05, got {raw!r}")
    sign = -1.0 if m.group(1) == "-" else 1.0
    number = float(m.group(2)) * sign
    unit = (m.group(3) or "").lower()
    if unit == "pp":
        return Tolerance(number / 100.0, False, raw)
    if unit == "%":
        return Tolerance(number / 100.0, True, raw)
    if unit == "s":
        return Tolerance(number * 1000.0, False, raw)
    return Tolerance(number, False, raw)


def parse_population(spec: str | Mapping[str, Any], option: str = "population") -> dict[str, Any]:
    """Trace filters from ``release=2026.12``, ``variant=b,experiment=ranker``, ``tag=canary``, ``since=1h``
    or a bare value (a release / model version)."""
    if isinstance(spec, Mapping):
        return dict(spec)
    text = str(spec).strip()
    if not text:
        raise GateError(f"{option}: empty population; expected e.g. release=2026.12")
    out: dict[str, Any] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            if out or "," in text:
                raise GateError(f"{option}: {part!r} is not key=value")
            return {"release": part}
        key, value = key.strip().lower(), value.strip()
        if key not in _SELECTORS:
            raise GateError(f"{option}: unknown selector {key!r}; known: {', '.join(sorted(_SELECTORS))}")
        if not value:
            raise GateError(f"{option}: {key}= needs a value")
        name = _SELECTORS[key]
        if name == "tag":
            out.setdefault("tag", []).append(value)
        else:
            out[name] = value
    if not out:
        raise GateError(f"{option}: empty population; expected e.g. release=2026.12")
    return out


# -- specs and results -----------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricSpec:
    name: str
    tolerance: Tolerance
    critical: bool = True
    weight: float = 1.0
    required: bool = True  # without enough data the verdict is not_enough_data

    def __post_init__(self) -> None:
        if self.name not in METRIC_NAMES:
            raise GateError(f"unknown metric {self.name!r}; known: {', '.join(METRIC_NAMES)}")

    @property
    def bad_direction(self) -> str:
        return _BAD_DIRECTION.get(self.name, "increase")


@dataclass
class MetricResult:
    name: str
    classification: str  # High, Low, Pass, NoData
    failed: bool
    method: str
    baseline: float | None
    candidate: float | None
    change: float | None
    relative_change: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n_baseline: int
    n_candidate: int
    tolerance: str
    critical: bool
    weight: float
    reason: str = ""


@dataclass
class Verdict:
    verdict: str  # pass, marginal, fail, not_enough_data
    score: float | None
    metrics: list[MetricResult]
    reasons: list[str]
    baseline: dict[str, Any] = field(default_factory=dict)
    candidate: dict[str, Any] = field(default_factory=dict)
    n_baseline: int = 0
    n_candidate: int = 0
    confidence: float = 0.98
    id: str | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "verdict": self.verdict,
            "score": self.score,
            "reasons": self.reasons,
            "baseline": _jsonable_filters(self.baseline),
            "candidate": _jsonable_filters(self.candidate),
            "n_baseline": self.n_baseline,
            "n_candidate": self.n_candidate,
            "confidence": self.confidence,
            "metrics": [_clean(asdict(m)) for m in self.metrics],
        }


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _jsonable_filters(f: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in f.items()}


# -- populations ---------------------------------------------------------------------------------
@dataclass
class Population:
    """What a gate needs of a set of traces: finished and failed counts, durations, costs, quality scores."""

    finished: int
    failed: int
    durations: np.ndarray
    costs: np.ndarray
    quality: np.ndarray

    @property
    def runs(self) -> int:
        return self.finished


def population_from_values(
    *,
    durations: Sequence[float] = (),
    failed: int = 0,
    finished: int | None = None,
    costs: Sequence[float] = (),
    quality: Sequence[float] = (),
) -> Population:
    import numpy as np

    d = np.asarray(durations, dtype=float)
    return Population(
        int(finished if finished is not None else d.size),
        int(failed),
        d,
        np.asarray(costs, dtype=float),
        np.asarray(quality, dtype=float),
    )


def load_population(store: Store, filters: Mapping[str, Any]) -> Population:
    """The finished traces matching ``filters`` (the query API's trace filters)."""
    from glassbox.analysis.filters import check, where

    try:
        cond = where(check(dict(filters)), store.engine.dialect.name)
    except QueryError as exc:
        raise GateError(str(exc)) from None
    with store.ready().engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            return _packed_population(conn, cond)
        return _fetched_population(conn, cond)


def _packed_population(conn: Connection, cond: ColumnElement[bool]) -> Population:
    """PostgreSQL: one row of counts and each column's values packed into one bytea (8 bytes a value, in the
    scan's order, NULLs left out), read by numpy as is: no Python object per run and value."""
    import numpy as np
    from sqlalchemy import LargeBinary, func, literal_column, select, type_coerce

    from glassbox.store.schema import traces

    t = traces.c

    def packed(col: Any) -> Any:
        return type_coerce(func.string_agg(func.float8send(col), literal_column("''::bytea")), LargeBinary)

    stmt = select(
        func.count(),
        func.count().filter(t.status == "failed"),
        packed(t.duration_ms),
        packed(t.cost_usd),
        packed(t.quality_score),
    ).where(cond, t.status.in_(_FINISHED))
    finished, failed, *blobs = conn.execute(stmt).one()
    d, c, q = (np.frombuffer(b or b"", dtype=">f8").astype(float) for b in blobs)
    return Population(int(finished), int(failed), d[~np.isnan(d)], c[~np.isnan(c)], q[~np.isnan(q)])


def _fetched_population(conn: Connection, cond: ColumnElement[bool]) -> Population:
    """SQLite: one query per finished status, read from ix_traces_release_gate alone; the row counts are the
    finished and failed counts, so no status string is fetched per run."""
    import numpy as np
    from sqlalchemy import select

    from glassbox.store.schema import traces

    t = traces.c
    values = []
    for status in _FINISHED:
        result = conn.execute(select(t.duration_ms, t.cost_usd, t.quality_score).where(cond, t.status == status))
        # Plain tuples straight from the driver: these columns need no result processing, and at 100,000
        # runs SQLAlchemy's row objects cost more than the query itself.
        cursor = getattr(result, "cursor", None)
        rows = cursor.fetchall() if cursor is not None else result.all()
        values.append(np.array(rows, dtype=float).reshape(-1, 3))  # None -> NaN
    failed = values[1]
    v = np.concatenate(values)
    d, c, q = v[:, 0], v[:, 1], v[:, 2]
    return Population(len(v), len(failed), d[~np.isnan(d)], c[~np.isnan(c)], q[~np.isnan(q)])


# -- judging ---------------------------------------------------------------------------------------
def _classify(spec: MetricSpec, change: float, rel: float | None, sig_up: bool, sig_down: bool) -> tuple[str, bool]:
    """(High / Low / Pass, failed): significant *and* beyond the tolerance band; failed in the bad direction."""
    value = rel if spec.tolerance.relative else change
    if value is None or not math.isfinite(value):  # relative to a zero baseline: any change is unbounded
        value = math.copysign(math.inf, change) if change else 0.0
    tol = spec.tolerance.value
    bad_up = spec.bad_direction == "increase"
    over_up = value > tol if bad_up else value > abs(tol)
    over_down = value < -abs(tol) if bad_up else value < tol
    if sig_up and over_up:
        return "High", bad_up
    if sig_down and over_down:
        return "Low", not bad_up
    return "Pass", False


def _rel(change: float, ref: float) -> float | None:
    return change / abs(ref) if ref and math.isfinite(ref) else None


def judge_metric(
    spec: MetricSpec, a: Population, b: Population, *, confidence: float = 0.98, min_samples: int = 30
) -> MetricResult:
    """One metric's classification (see the module docstring)."""
    import numpy as np

    from glassbox.stats.quantiles import quantile_ci
    from glassbox.stats.twosample import iqr_filter, mann_whitney_u, two_proportion_z, welch_t

    def nodata(method: str, n_a: int, n_b: int, what: str) -> MetricResult:
        return MetricResult(
            spec.name,
            "NoData",
            False,
            method,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            n_a,
            n_b,
            str(spec.tolerance),
            spec.critical,
            spec.weight,
            f"not enough data: {what} ({n_a} baseline, {n_b} candidate; at least {min_samples} each needed)",
        )

    if spec.name == "error_rate":
        if a.finished < min_samples or b.finished < min_samples:
            return nodata("two_proportion_z", a.finished, b.finished, "finished runs")
        r = two_proportion_z(a.failed, a.finished, b.failed, b.finished, confidence)
        base, cand = a.failed / a.finished, b.failed / b.finished
        change, rel = r.estimate, _rel(r.estimate, base)
        cls, failed = _classify(spec, change, rel, r.ci_low > 0, r.ci_high < 0)
        return _result(
            spec, cls, failed, r.method, base, cand, change, rel, r.ci_low, r.ci_high, r.p_value, a.finished, b.finished
        )
    if spec.name in ("latency", "cost"):
        xa, xb = (a.durations, b.durations) if spec.name == "latency" else (a.costs, b.costs)
        # Tukey fences from both samples pooled: the same trim on each side keeps the test exact under
        # no change (per-sample fences inflated the A/A false-positive rate from 2 % to about 4 %).
        pooled = np.concatenate([xa, xb])
        fa, fb = iqr_filter(xa, reference=pooled), iqr_filter(xb, reference=pooled)
        if fa.size < min_samples or fb.size < min_samples:
            return nodata("mann_whitney_u", int(fa.size), int(fb.size), f"{spec.name} values")
        r = mann_whitney_u(fa, fb, confidence)
        base, cand = float(np.median(fa)), float(np.median(fb))
        change, rel = r.estimate, _rel(r.estimate, base)
        cls, failed = _classify(spec, change, rel, r.ci_low > 0, r.ci_high < 0)
        return _result(
            spec,
            cls,
            failed,
            "mann_whitney_u+hodges_lehmann",
            base,
            cand,
            change,
            rel,
            r.ci_low,
            r.ci_high,
            r.p_value,
            r.n_a,
            r.n_b,
        )
    if spec.name.startswith("latency_p"):
        q = float(spec.name[len("latency_p") :]) / 100.0
        xa, xb = a.durations, b.durations
        if xa.size < min_samples or xb.size < min_samples:
            return nodata("quantile_ci", int(xa.size), int(xb.size), "latency values")
        pa, la, ha = quantile_ci(xa, q, confidence)
        pb, lb, hb = quantile_ci(xb, q, confidence)
        change, rel = pb - pa, _rel(pb - pa, pa)
        # non-overlapping order-statistic intervals: the quantile moved
        cls, failed = _classify(spec, change, rel, lb > ha, hb < la)
        return _result(
            spec, cls, failed, "quantile_ci", pa, pb, change, rel, lb - ha, hb - la, None, int(xa.size), int(xb.size)
        )
    # quality
    xa, xb = a.quality, b.quality
    if xa.size < min_samples or xb.size < min_samples:
        return nodata("welch_t", int(xa.size), int(xb.size), "quality scores")
    r = welch_t(xa, xb, confidence)
    if math.isnan(r.p_value):  # no variance on either side: the means are the figures
        sig_up = sig_down = r.estimate != 0
        sig_up, sig_down = sig_up and r.estimate > 0, sig_down and r.estimate < 0
    else:
        sig_up, sig_down = r.ci_low > 0, r.ci_high < 0
    base, cand = r.extra.get("mean_a", float(np.mean(xa))), r.extra.get("mean_b", float(np.mean(xb)))
    change, rel = r.estimate, _rel(r.estimate, base)
    cls, failed = _classify(spec, change, rel, sig_up, sig_down)
    return _result(spec, cls, failed, r.method, base, cand, change, rel, r.ci_low, r.ci_high, r.p_value, r.n_a, r.n_b)


def _result(
    spec: MetricSpec,
    cls: str,
    failed: bool,
    method: str,
    base: float,
    cand: float,
    change: float,
    rel: float | None,
    lo: float,
    hi: float,
    p: float | None,
    n_a: int,
    n_b: int,
) -> MetricResult:
    pct = f" ({rel:+.1%})" if rel is not None else ""
    verb = {"High": "rose", "Low": "fell", "Pass": "changed"}[cls]
    why = f"{spec.name} {verb} {base:.4g} -> {cand:.4g}{pct}; tolerance {spec.tolerance}"
    if failed:
        why += " exceeded"
    elif cls == "Pass":
        why += ": within the band or not significant"
    return MetricResult(
        spec.name,
        cls,
        failed,
        method,
        base,
        cand,
        change,
        rel,
        lo,
        hi,
        p,
        n_a,
        n_b,
        str(spec.tolerance),
        spec.critical,
        spec.weight,
        why,
    )


def judge(
    baseline: Population,
    candidate: Population,
    specs: Sequence[MetricSpec],
    *,
    confidence: float = 0.98,
    min_samples: int = 30,
    pass_score: float = 95.0,
    marginal_score: float = 75.0,
) -> Verdict:
    """The verdict over ``specs`` (NetflixACAJudge-style scoring)."""
    if not specs:
        raise GateError("a gate needs at least one metric")
    if not 0 <= marginal_score <= pass_score <= 100:
        raise GateError(f"thresholds: expected 0 <= marginal ({marginal_score}) <= pass ({pass_score}) <= 100")
    results = [judge_metric(s, baseline, candidate, confidence=confidence, min_samples=min_samples) for s in specs]
    reasons: list[str] = []
    missing = [r for r, s in zip(results, specs, strict=True) if r.classification == "NoData" and s.required]
    judged = [r for r in results if r.classification != "NoData"]
    weight = sum(r.weight for r in judged)
    score = 100.0 * sum(r.weight for r in judged if not r.failed) / weight if weight else None
    if missing:
        verdict = "not_enough_data"
        reasons += [r.reason for r in missing]
    elif any(r.failed and r.critical for r in judged):
        verdict = "fail"
    elif score is None:
        verdict = "not_enough_data"
        reasons.append("no metric had enough data")
    else:
        verdict = "pass" if score >= pass_score else ("marginal" if score >= marginal_score else "fail")
    reasons += [r.reason for r in judged if r.failed]
    if verdict in ("marginal", "fail") and not any(r.failed and r.critical for r in judged):
        reasons.append(
            f"score {score:.0f} below {'pass' if verdict == 'marginal' else 'marginal'} threshold "
            f"{pass_score if verdict == 'marginal' else marginal_score:g}"
        )
    if verdict == "pass":
        reasons.append(f"every metric within tolerance (score {score:.0f})")
    return Verdict(
        verdict, score, results, reasons, n_baseline=baseline.runs, n_candidate=candidate.runs, confidence=confidence
    )


DEFAULT_SPECS = (
    MetricSpec("error_rate", parse_tolerance("+1pp")),
    MetricSpec("latency", parse_tolerance("+20%")),
    MetricSpec("latency_p95", parse_tolerance("+25%"), critical=False),
    MetricSpec("cost", parse_tolerance("+20%"), critical=False, required=False),
    MetricSpec("quality", parse_tolerance("-0.05"), required=False),
)


def run_gate(
    store: Store,
    baseline: str | Mapping[str, Any],
    candidate: str | Mapping[str, Any],
    specs: Sequence[MetricSpec] = DEFAULT_SPECS,
    *,
    project: str | None = None,
    record: bool = True,
    kind: str = "gate",
    name: str | None = None,
    **judge_options: Any,
) -> Verdict:
    """Select both populations, judge them and (by default) record the verdict in the store."""
    base_f = parse_population(baseline, "--baseline")
    cand_f = parse_population(candidate, "--candidate")
    if project:
        base_f.setdefault("project", project)
        cand_f.setdefault("project", project)
    v = judge(*_load_both(store, base_f, cand_f), specs, **judge_options)
    v.baseline, v.candidate = base_f, cand_f
    if record:
        record_verdict(store, v, kind=kind, name=name, project=project)
    return v


def _load_both(store: Store, base_f: Mapping[str, Any], cand_f: Mapping[str, Any]) -> tuple[Population, Population]:
    """Both populations; on PostgreSQL at once, on two connections: each load is mostly the server's scan,
    so the second need not wait for the first (SQLite's loads are this process's own CPU: one after the other)."""
    if store.ready().engine.dialect.name != "postgresql":
        return load_population(store, base_f), load_population(store, cand_f)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="glassbox-gate") as pool:
        candidate = pool.submit(load_population, store, cand_f)
        baseline = load_population(store, base_f)
        return baseline, candidate.result()


def record_verdict(
    store: Store,
    v: Verdict,
    *,
    kind: str,
    name: str | None = None,
    project: str | None = None,
    step: int | None = None,
    percent: float | None = None,
    verdict: str | None = None,
) -> str:
    import time

    from sqlalchemy import insert

    from glassbox.ids import new_record_id
    from glassbox.jsonsafe import jsonable
    from glassbox.store.tables.evaluation import release_verdicts

    doc = v.to_dict()
    v.id = new_record_id()
    now_ns = time.time_ns()
    with store.ready().engine.begin() as conn:
        conn.execute(
            insert(release_verdicts),
            [
                {
                    "id": v.id,
                    "project": project or str(v.candidate.get("project") or "default"),
                    "kind": kind,
                    "name": name,
                    "step": step,
                    "percent": percent,
                    "verdict": verdict or v.verdict,
                    "score": v.score,
                    "baseline": doc["baseline"],
                    "candidate": doc["candidate"],
                    "metrics": jsonable(doc["metrics"]),
                    "reasons": doc["reasons"],
                    "at": datetime.fromtimestamp(now_ns / 1e9, UTC).replace(tzinfo=None),
                    "at_ns": now_ns,
                }
            ],
        )
    return v.id


def list_verdicts(
    store: Store, *, kind: str | None = None, name: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from glassbox.store.tables.evaluation import release_verdicts

    c = release_verdicts.c
    q = select(release_verdicts).order_by(c.at_ns.desc(), c.id).limit(limit)
    if kind:
        q = q.where(c.kind == kind)
    if name:
        q = q.where(c.name == name)
    with store.ready().engine.connect() as conn:
        rows = conn.execute(q).all()
    return [{**dict(r._mapping), "at": r.at.isoformat() + "Z"} for r in rows]
