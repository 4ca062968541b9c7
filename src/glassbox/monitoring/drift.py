"""Drift: compare a reference sample of a field with a current window, overall and per release or workflow.

Fields (``FIELDS`` lists them):

- numeric run fields: ``duration_ms``, ``cost_usd``, ``tokens_in``, ``tokens_out``, ``quality_score``;
- ``score:NAME``: the values of every score called NAME; ``confidence`` (or ``confidence:STAGE``): decision
  confidences;
- categories: ``workflow``, ``intent``, ``domain``, ``status``, ``release``, ``environment``, ``service``,
  ``decision`` (or ``decision:STAGE``: what was decided), ``model`` (LLM models called).

The reference is the window just before the current one (``reference="7d"`` before ``current="24h"``),
every run of a pinned release (``reference_release="v1"``; pass ``release="v2"`` to keep the current side
to another release), or a pinned baseline (``pin_baseline`` / ``baseline="name"``). The statistic is
Evidently's default for the samples (``stats.drift``) unless ``method`` says otherwise.

Severity (how far past its threshold the score is; ``severity_of``):

=========  ============================  =====================================
severity   distances (wasserstein, JS,    p-values (ks, chisquare, z),
           psi): score / threshold        p against the threshold t
=========  ============================  =====================================
low        1 to 2                         p <= t (or < t, as the method says)
medium     2 to 3                         p <= t / 5
high       3 to 5                         p <= t / 50
critical   5 or more                      p <= t / 50,000
=========  ============================  =====================================

A side with fewer than ``min_samples`` values (default 30) is "not_enough_data": no score, no alert.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select

from glassbox.analysis.filters import check as check_filters
from glassbox.analysis.filters import parse_time, where
from glassbox.errors import NotFound, QueryError
from glassbox.ids import new_record_id
from glassbox.stats import drift as stats
from glassbox.store.schema import decisions, scores, spans, traces
from glassbox.store.tables.feedback import drift_baselines, drift_results

if TYPE_CHECKING:
    from glassbox.store.store import Store

NUMERIC_RUN_FIELDS = ("duration_ms", "cost_usd", "tokens_in", "tokens_out", "quality_score")
CATEGORY_RUN_FIELDS = ("workflow", "intent", "domain", "status", "release", "environment", "service")
FIELDS = (
    *NUMERIC_RUN_FIELDS,
    "score:NAME",
    "confidence",
    "confidence:STAGE",
    *CATEGORY_RUN_FIELDS,
    "decision",
    "decision:STAGE",
    "model",
)
SEGMENTS = ("release", "workflow")
SEVERITIES = ("none", "low", "medium", "high", "critical")
DEFAULT_FIELDS = ("confidence", "quality_score", "duration_ms", "workflow")
MIN_SAMPLES = 30
MAX_VALUES = 100_000  # newest values per side: bounds memory on a busy store
# drift severity -> alert severity (the alerts' vocabulary: info, warning, critical)
ALERT_SEVERITY = {"low": "info", "medium": "warning", "high": "warning", "critical": "critical"}


class BaselineNotFound(NotFound):
    """No pinned baseline of that name and field."""


@dataclass(frozen=True)
class FieldDrift:
    """One field (in one segment) compared: ``status`` ok, drift or not_enough_data."""

    field: str
    status: str
    severity: str
    n_reference: int
    n_current: int
    segment_by: str | None = None
    segment: str | None = None
    method: str | None = None
    score: float | None = None
    threshold: float | None = None
    drifted: bool = False
    categorical: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        where_ = f" ({self.segment_by}={self.segment})" if self.segment_by else ""
        if self.status == "not_enough_data":
            return f"{self.field}{where_}: not enough data ({self.n_reference} reference, {self.n_current} current)"
        kind = "p" if self.method in ("ks", "chisquare", "z") else self.method
        return (
            f"{self.field}{where_}: {'DRIFT ' + self.severity if self.drifted else 'no drift'} "
            f"({kind} = {self.score:.4g}, threshold {self.threshold:g}; {self.n_reference} vs {self.n_current})"
        )


@dataclass
class DriftReport:
    """One drift check: its results, the windows compared, and its id in the time series."""

    check_id: str
    project: str | None
    at: datetime
    reference: dict[str, Any]
    current: dict[str, Any]
    results: list[FieldDrift]

    @property
    def drifted(self) -> list[FieldDrift]:
        return [r for r in self.results if r.drifted]

    @property
    def worst(self) -> str:
        found = [SEVERITIES.index(r.severity) for r in self.results if r.drifted]
        return SEVERITIES[max(found)] if found else "none"

    def to_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "project": self.project,
            "at": self.at.isoformat() + "Z",
            "reference": self.reference,
            "current": self.current,
            "drifted": len(self.drifted),
            "worst_severity": self.worst,
            "results": [r.as_dict() for r in self.results],
        }


def severity_of(score: DriftScore) -> str:
    """The documented band of a drifted score (``none`` when it did not drift)."""
    if not score.drifted:
        return "none"
    t = score.threshold
    if score.is_p_value:
        p = score.score
        return "critical" if p <= t / 50_000 else "high" if p <= t / 50 else "medium" if p <= t / 5 else "low"
    ratio = score.score / t if t > 0 else math.inf
    return "critical" if ratio >= 5 else "high" if ratio >= 3 else "medium" if ratio >= 2 else "low"


DriftScore = stats.DriftScore


# -- reading values ------------------------------------------------------------------------------
def _field_source(name: str) -> tuple[Any, list[Any], Any, bool]:
    """(value column, extra conditions, table joined to traces or None, categorical) for a field name."""
    kind, _, arg = name.partition(":")
    if name in NUMERIC_RUN_FIELDS:
        return traces.c[name], [], None, False
    if name in CATEGORY_RUN_FIELDS:
        return traces.c[name], [], None, True
    if kind == "score" and arg:
        return scores.c.value, [_same(scores.c.name, arg)], scores, False
    if kind == "confidence":
        return decisions.c.confidence, ([_same(decisions.c.stage, arg)] if arg else []), decisions, False
    if kind == "decision":
        return decisions.c.what, ([_same(decisions.c.stage, arg)] if arg else []), decisions, True
    if name == "model":
        return spans.c.model, [], spans, True
    raise QueryError(f"drift field: expected one of {', '.join(FIELDS)}, got {name!r}")


def _same(column: Any, value: str) -> Any:
    """``column = value`` written so that no index on ``column`` is used: the window's runs lead and each run's
    rows are found by its trace id. With an index on the name or stage, SQLite would scan every row of that
    name once per run of the window (minutes on a big store)."""
    return column.concat("") == value


def is_categorical(name: str) -> bool:
    return _field_source(name)[3]


def field_values(
    store: Store, name: str, *, segment_by: str | None = None, **filters: Any
) -> dict[str | None, list[Any]]:
    """Values of field ``name`` in the runs matching ``filters``, by segment (``None``: all runs)."""
    return many_field_values(store, [name], segment_by=segment_by, **filters)[name]


def many_field_values(
    store: Store, names: list[str] | tuple[str, ...], *, segment_by: str | None = None, **filters: Any
) -> dict[str, dict[str | None, list[Any]]]:
    """``field_values`` of several fields: the run's own columns are read in one query, each joined
    field (scores, decisions, models) in one more. At most ``MAX_VALUES`` newest values per field."""
    if segment_by is not None and segment_by not in SEGMENTS:
        raise QueryError(f"drift by: expected one of {', '.join(SEGMENTS)}, got {segment_by!r}")
    sources = {name: _field_source(name) for name in names}
    cond = where(check_filters(filters), store.engine.dialect.name)
    seg = traces.c[segment_by] if segment_by else None
    run_fields = [n for n, src in sources.items() if src[2] is None]
    groups: list[tuple[list[str], Any]] = []
    if run_fields:
        cols = [sources[n][0] for n in run_fields]
        groups.append((run_fields, select(*cols, *([seg] if seg is not None else [])).where(cond)))
    for n, (column, conds, table, _) in sources.items():
        if table is not None:
            src = traces.join(table, table.c.trace_id == traces.c.trace_id)
            groups.append(
                (
                    [n],
                    select(column, *([seg] if seg is not None else []))
                    .select_from(src)
                    .where(cond, column.is_not(None), *conds),
                )
            )
    out: dict[str, dict[str | None, list[Any]]] = {n: {None: []} for n in names}
    store.ready()
    with store.engine.connect() as conn:
        for fields, stmt in groups:
            # Unordered first (no sort); only a window holding more than MAX_VALUES is read again, newest first.
            rows = conn.execute(stmt.limit(MAX_VALUES + 1)).all()
            if len(rows) > MAX_VALUES:
                rows = conn.execute(stmt.order_by(traces.c.started_at.desc()).limit(MAX_VALUES)).all()
            if not rows:
                continue
            # Column by column (not row by row): each list keeps the rows' order.
            columns = list(zip(*rows, strict=True))
            at = _rows_by_segment(columns[len(fields)]) if seg is not None else {}
            for n, column in zip(fields, columns, strict=False):  # columns: the fields, then the segment
                out[n][None] = [v for v in column if v is not None]
                for key, where_ in at.items():
                    values = [v for v in map(column.__getitem__, where_) if v is not None]
                    if values:
                        out[n][key] = values
    return out


def _rows_by_segment(keys: tuple[Any, ...]) -> dict[str, list[int]]:
    """Row numbers of each segment (no segment: ""), in row order; segments in order of first appearance."""
    if None in keys:
        keys = tuple("" if k is None else k for k in keys)
    segments = list(dict.fromkeys(keys))
    if len(segments) <= 16:  # the usual few releases or workflows: one quick pass each
        return {key: [i for i, k in enumerate(keys) if k == key] for key in segments}
    at: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        at.setdefault(key, []).append(i)
    return at


# -- windows -------------------------------------------------------------------------------------
def _span(text: str, name: str) -> timedelta:
    now = datetime(2000, 1, 1)
    try:
        return now - parse_time(text, name, now=now)
    except QueryError:
        raise QueryError(f"{name}: expected a span such as 24h, 7d or 2w, got {text!r}") from None


def windows(
    current: str = "24h",
    reference: str = "7d",
    *,
    now: datetime | None = None,
) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """(current, reference) as since/until: the current span back from now, the reference just before it."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    cur = _span(current, "current")
    ref = _span(reference, "reference")
    if cur <= timedelta(0) or ref <= timedelta(0):
        raise QueryError("current and reference spans must be positive")
    start = now - cur
    return {"since": start, "until": now}, {"since": start - ref, "until": start}


# -- checking ------------------------------------------------------------------------------------
def compare(
    name: str,
    reference: list[Any],
    current: list[Any],
    *,
    categorical: bool,
    method: str | None = None,
    threshold: float | None = None,
    min_samples: int = MIN_SAMPLES,
    segment_by: str | None = None,
    segment: str | None = None,
) -> FieldDrift:
    """One comparison with the minimum-sample rule, its severity and descriptive details."""
    ref, cur = stats.clean(reference), stats.clean(current)
    if len(ref) < min_samples or len(cur) < min_samples or not ref or not cur:
        return FieldDrift(
            name,
            "not_enough_data",
            "none",
            len(ref),
            len(cur),
            segment_by,
            segment,
            categorical=categorical,
            details={"min_samples": min_samples},
        )
    try:
        score, psi = stats.drift_test_and_psi(ref, cur, categorical=categorical, method=method, threshold=threshold)
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    details: dict[str, Any] = {}
    if math.isfinite(score.statistic):  # χ² is infinite for a category the reference never had
        details["statistic"] = score.statistic
    if math.isfinite(psi):
        details["psi"] = psi
        details["psi_band"] = stats.psi_band(psi)
    if categorical:
        details["reference_shares"] = _shares(ref)
        details["current_shares"] = _shares(cur)
    else:
        details["reference_mean"] = math.fsum(ref) / len(ref)
        details["current_mean"] = math.fsum(cur) / len(cur)
    severity = severity_of(score)
    return FieldDrift(
        name,
        "drift" if score.drifted else "ok",
        severity,
        len(ref),
        len(cur),
        segment_by,
        segment,
        score.method,
        _finite(score.score),
        score.threshold,
        score.drifted,
        categorical,
        details,
    )


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _shares(values: list[Any], top: int = 8) -> dict[str, float]:
    counts: dict[str, int] = {}
    for v, n in Counter(values).items():  # counted in C, then merged by label (1 and "1" are one label)
        counts[str(v)] = counts.get(str(v), 0) + n
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return {k: n / len(values) for k, n in ranked}


def check(
    store: Store,
    fields: list[str] | tuple[str, ...] = DEFAULT_FIELDS,
    *,
    current: str = "24h",
    reference: str = "7d",
    reference_release: str | None = None,
    baseline: str | None = None,
    by: str | None = None,
    method: str | None = None,
    threshold: float | None = None,
    min_samples: int = MIN_SAMPLES,
    project: str | None = None,
    now: datetime | None = None,
    save: bool = True,
    alert: bool = True,
    **filters: Any,
) -> DriftReport:
    """Compare each field's current window with its reference, overall and per ``by`` segment.

    Stores the results as one check of the time series (``save``) and fires an alert per drifted
    field and segment (``alert``; cleared ones are resolved). ``filters`` narrow the runs (workflow=…).
    """
    if not fields:
        raise QueryError("drift: give at least one field")
    if int(min_samples) < 2:
        raise QueryError(f"min_samples: expected 2 or more, got {min_samples!r}")
    if by is not None and by not in SEGMENTS:
        raise QueryError(f"drift by: expected one of {', '.join(SEGMENTS)}, got {by!r}")
    if method is not None and method not in stats.METHODS:
        raise QueryError(f"drift method: expected one of {', '.join(stats.METHODS)}, got {method!r}")
    if threshold is not None and not (math.isfinite(threshold) and threshold > 0):
        raise QueryError(f"drift threshold: expected a positive number, got {threshold!r}")
    for name in fields:
        _field_source(name)
    cur_window, ref_window = windows(current, reference, now=now)
    scope = {**filters, **({"project": project} if project else {})}
    ref_desc: dict[str, Any] = {"since": _iso(ref_window["since"]), "until": _iso(ref_window["until"])}
    if reference_release is not None:
        ref_desc = {"release": reference_release, "until": _iso(cur_window["until"])}
    if baseline is not None:
        ref_desc = {"baseline": baseline}
    results: list[FieldDrift] = []
    current_all = many_field_values(store, fields, segment_by=by, **scope, **cur_window)
    if baseline is None and reference_release is None:
        reference_all = many_field_values(store, fields, segment_by=by, **scope, **ref_window)
    elif reference_release is not None:
        # every run of the pinned release so far (narrow the current side with release=… to compare apart)
        reference_all = many_field_values(
            store, fields, **{**scope, "release": reference_release}, until=cur_window["until"]
        )
    for name in fields:
        categorical = is_categorical(name)
        cur_vals = current_all[name]
        if baseline is not None:
            ref_vals = load_baseline(store, baseline, name, project=project or "default", segment_by=by)
        elif reference_release is not None:
            pinned = reference_all[name][None]
            ref_vals = {None: pinned}
            if by is not None:
                ref_vals.update({seg: pinned for seg in cur_vals if seg is not None})
        else:
            ref_vals = reference_all[name]
        results.append(
            compare(
                name,
                ref_vals.get(None, []),
                cur_vals.get(None, []),
                categorical=categorical,
                method=method,
                threshold=threshold,
                min_samples=min_samples,
            )
        )
        if by is not None:
            for seg in sorted(s for s in cur_vals if s is not None):
                results.append(
                    compare(
                        name,
                        ref_vals.get(seg, []),
                        cur_vals[seg],
                        categorical=categorical,
                        method=method,
                        threshold=threshold,
                        min_samples=min_samples,
                        segment_by=by,
                        segment=seg,
                    )
                )
    report = DriftReport(
        new_record_id(),
        project,
        now or datetime.now(UTC).replace(tzinfo=None),
        ref_desc,
        {"since": _iso(cur_window["since"]), "until": _iso(cur_window["until"])},
        results,
    )
    if save:
        save_report(store, report)
    if alert:
        raise_alerts(store, report)
    return report


def _iso(d: datetime) -> str:
    return d.isoformat() + "Z"


# -- the time series -----------------------------------------------------------------------------
def save_report(store: Store, report: DriftReport) -> None:
    at_ns = int(report.at.replace(tzinfo=UTC).timestamp() * 1e6) * 1000
    rows = [
        {
            "id": new_record_id(),
            "check_id": report.check_id,
            "project": report.project or "default",
            "field": r.field,
            "segment_by": r.segment_by,
            "segment": r.segment,
            "status": r.status,
            "severity": r.severity,
            "method": r.method,
            "score": r.score,
            "threshold": r.threshold,
            "drifted": r.drifted,
            "n_reference": r.n_reference,
            "n_current": r.n_current,
            "reference": report.reference,
            "current": report.current,
            "details": r.details,
            "at": report.at,
            "at_ns": at_ns,
        }
        for r in report.results
    ]
    if rows:
        with store.ready().engine.begin() as conn:
            conn.execute(drift_results.insert(), rows)


def history(
    store: Store, *, project: str | None = None, field: str | None = None, since: Any = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Stored results, newest first (the time series behind the dashboard and ``/api/v1/drift``)."""
    d = drift_results.c
    conds: list[Any] = []
    if project is not None:
        conds.append(d.project == project)
    if field is not None:
        conds.append(d.field == field)
    if since is not None:
        conds.append(d.at >= parse_time(since, "since"))
    stmt = select(drift_results).where(and_(True, *conds)).order_by(d.at.desc(), d.field, d.segment).limit(limit)
    with store.ready().engine.connect() as conn:
        rows = conn.execute(stmt).all()
    out = []
    for r in rows:
        m = dict(r._mapping)
        m["at"] = _iso(m["at"])
        out.append(m)
    return out


def latest(store: Store, *, project: str | None = None) -> list[dict[str, Any]]:
    """The newest result of every (project, field, segment): the current state of drift."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for r in history(store, project=project, limit=5000):
        key = (r["project"], r["field"], r["segment_by"], r["segment"])
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def summary(store: Store, *, project: str | None = None) -> dict[str, Any]:
    """``/api/v1/drift/summary``: the newest state per field and segment, counts by severity, last check."""
    state = latest(store, project=project)
    counts = dict.fromkeys(SEVERITIES, 0)
    for r in state:
        if r["drifted"]:
            counts[r["severity"]] += 1
    drifted = [r for r in state if r["drifted"]]
    return {
        "last_check": max((r["at"] for r in state), default=None),
        "fields": len({(r["project"], r["field"]) for r in state}),
        "drifted": len(drifted),
        "not_enough_data": sum(1 for r in state if r["status"] == "not_enough_data"),
        "by_severity": {k: v for k, v in counts.items() if k != "none"},
        "worst_severity": max((r["severity"] for r in drifted), key=SEVERITIES.index, default="none"),
        "results": state,
    }


# -- pinned baselines ----------------------------------------------------------------------------
def pin_baseline(
    store: Store,
    name: str,
    fields: list[str] | tuple[str, ...],
    *,
    project: str = "default",
    by: str | None = None,
    **filters: Any,
) -> dict[str, int]:
    """Snapshot the values of ``fields`` in the runs matching ``filters`` (``since``/``until``/``release``…)
    as baseline ``name``; later checks compare with it (``baseline=name``). Returns values per field."""
    if not name or not name.strip():
        raise QueryError("baseline: give a name")
    rows, counts = [], {}
    for f in fields:
        vals = field_values(store, f, segment_by=by, project=project, **filters)
        if not vals[None]:
            raise QueryError(f"baseline {name!r}: no values of {f!r} in the runs selected")
        counts[f] = len(vals[None])
        for seg, values in vals.items():
            rows.append(
                {
                    "project": project,
                    "name": name,
                    "field": f,
                    "segment_by": (by or "") if seg else "",
                    "segment": seg or "",
                    "categorical": is_categorical(f),
                    "values": values,
                    "source": {k: str(v) for k, v in filters.items()},
                    "created_at": datetime.now(UTC).replace(tzinfo=None),
                }
            )
    b = drift_baselines.c
    with store.ready().engine.begin() as conn:
        conn.execute(drift_baselines.delete().where(b.project == project, b.name == name, b.field.in_(list(fields))))
        conn.execute(drift_baselines.insert(), rows)
    return counts


def load_baseline(
    store: Store, name: str, field_name: str, *, project: str = "default", segment_by: str | None = None
) -> dict[str | None, list[Any]]:
    b = drift_baselines.c
    with store.ready().engine.connect() as conn:
        rows = conn.execute(
            select(b.segment_by, b.segment, b["values"]).where(
                b.project == project, b.name == name, b.field == field_name
            )
        ).all()
    if not rows:
        raise BaselineNotFound(
            f"no baseline {name!r} of field {field_name!r} in project {project!r}: "
            f"pin one with `glassbox drift pin {name} --field {field_name}`"
        )
    out: dict[str | None, list[Any]] = {}
    for seg_by, seg, values in rows:
        if not seg:
            out[None] = list(values)
        elif seg_by == segment_by:
            out[seg] = list(values)
    return out


# -- alerts --------------------------------------------------------------------------------------
def alert_key(project: str | None, r: FieldDrift) -> str:
    return f"drift:{project or 'default'}:{r.field}:{r.segment_by or ''}:{r.segment or ''}"


def raise_alerts(store: Store, report: DriftReport) -> int:
    """Fire an alert for each drifted result; resolve the open alert of each that no longer drifts."""
    fired = 0
    for r in report.results:
        key = alert_key(report.project, r)
        if r.drifted:
            _fire(
                store,
                key=key,
                severity=ALERT_SEVERITY[r.severity],
                message=f"drift: {r.describe()}",
                rule=r.field,
                project=report.project,
                dims={
                    "field": r.field,
                    "segment_by": r.segment_by,
                    "segment": r.segment,
                    "severity": r.severity,
                    "method": r.method,
                    "score": r.score,
                    "check_id": report.check_id,
                },
            )
            fired += 1
        elif r.status == "ok":
            _resolve(store, key)
    return fired


def _fire(
    store: Store, *, key: str, severity: str, message: str, rule: str, project: str | None, dims: dict[str, Any]
) -> None:
    try:
        from glassbox.monitoring.alerts import fire
    except ImportError:  # the alerts contract not there yet: the alerts table as it is
        from glassbox.model import Alert
        from glassbox.store.alerts import add_alerts

        add_alerts(
            store, [Alert(new_record_id(), "drift", rule, message, severity, dims, None, project, time.time_ns())]
        )
        return
    fire(store, source="drift", rule=rule, severity=severity, message=message, key=key, dims=dims, project=project)


def _resolve(store: Store, key: str) -> None:
    try:
        from glassbox.monitoring.alerts import resolve
    except ImportError:
        return
    resolve(store, key)
