"""Calibration alerts: rules that spot patterns across runs.

After each batch of traces is stored, the engine runs on the writer thread (wired by
``bootstrap`` through the runtime's ``after_batch`` hook) — never on the app's path, and never
failing it. Built-in rules, thresholds in settings / glassbox.toml (``[calibration]`` table):

* ``repeated_principle_failure`` — a dimension ("principle") of one of this run's judged scores
  is below its threshold — ``thresholds[dim]`` in the score's own units, else ``gap_ratio`` x the
  score's ``max`` (1.0 when it has none) — and it has been so in at least ``min_failures`` runs of
  the project in the last ``window_days``.
* ``dimension_disparity`` — the runs of this run's intent / domain / workflow / release average
  at least ``disparity`` below the project's overall average quality over the window, with at
  least ``min_runs`` runs in the group. ``disparity`` is in the quality score's own units; by
  default a sixth of its ``max`` (0.5 on a 0-3 rubric; 0.17 for 0-1 scores).
* ``quality_gate_regression`` — this run failed its quality gate and the previous gated run of
  the same workflow (``gate_scope = "project"``: of the project) passed.

User rules: ``@gb.calibration_rule("name")`` on ``fn(trace, query) -> str | list[str] | None``
(``query`` is a ``glassbox.analysis.query.Query`` over the store). Each message becomes an alert.

A calibration alert is a ``[CALIBRATION] …`` warning on the ``glassbox`` logger, fired through
``glassbox.monitoring.alerts`` (source ``calibration``: stored, delivered to webhooks/callbacks), the
trace flagged for review, and a line appended to the alerts file
(``.glassbox/calibration_alerts.md``; ``{project}`` in the path is replaced). A rule fires at
most once per project and subject (the principle, ``intent=compare``, the workflow, the user
rule's message) within its window: the rule's own ``window_days``, else ``window_days``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from glassbox.config import section
from glassbox.ids import new_record_id
from glassbox.model import Alert, Score, Trace
from glassbox.store import dialect as sql
from glassbox.store.rows import dt as started_at
from glassbox.store.schema import alerts, scores, traces

if TYPE_CHECKING:
    from glassbox.store.store import Store

log = logging.getLogger("glassbox")

DISPARITY_DIMS = ("intent", "domain", "workflow", "release")
# Disparity scans the project's runs of the window (5 aggregates). Past this many runs, a batch's
# few runs barely move the averages: judge them at most every DISPARITY_EVERY_S per project, so
# the writer does not spend its time re-averaging a week of runs twice a second.
DISPARITY_BIG = 5_000
DISPARITY_EVERY_S = 60.0
_EPS = 1e-9  # 0.7 - 0.2 is 0.49999999999999994: a gap of exactly the threshold fires


_DEFAULTS = section(None, "calibration")  # the calibration_* options of config.Settings: declared there, once


@dataclass
class CalibrationSettings:
    """The calibration section of the settings (``calibration_*``, ``[calibration]``), as the engine takes it."""

    window_days: float = _DEFAULTS["window_days"]
    min_failures: int = _DEFAULTS["min_failures"]
    gap_ratio: float = _DEFAULTS["gap_ratio"]
    thresholds: dict[str, float] = field(default_factory=dict)
    disparity: float | None = _DEFAULTS["disparity"]  # None: a sixth of the quality score's max
    min_runs: int = _DEFAULTS["min_runs"]
    gate_scope: str = _DEFAULTS["gate_scope"]
    alerts_file: str | None = _DEFAULTS["alerts_file"]

    @classmethod
    def from_settings(cls, s: Any) -> CalibrationSettings:
        values = section(s, "calibration")
        return cls(**{f.name: dict(v) if isinstance(v := values[f.name], dict) else v for f in fields(cls)})


@dataclass
class Flag:
    rule: str
    subject: str  # what the flag is about: the dedup key within the rule and project
    message: str
    trace: Trace
    dims: dict[str, Any]
    severity: str = "warning"
    window_days: float | None = None  # None: the engine's window


def _naive_utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC).replace(tzinfo=None)


def _judged(t: Trace) -> list[Score]:
    """The run's (and its stages') scores that judge and have dimensions: not heuristic signals, not failures."""
    return [s for s in t.scores if s.source != "heuristic" and s.dimensions]


class CalibrationEngine:
    """Runs the rules over each stored batch; see the module docstring."""

    def __init__(self, store: Store, settings: CalibrationSettings | None = None) -> None:
        self.store = store
        self.settings = settings or CalibrationSettings()
        self.raised = 0
        self._recent: dict[str | None, dict[tuple[str, str], int]] = {}
        self._disparity_next: dict[str | None, float] = {}  # project -> monotonic time of its next evaluation

    # -- entry point -------------------------------------------------------------------------
    def after_batch(self, batch: Iterable[Trace]) -> list[Alert]:
        """Evaluate every rule on the finished runs of a stored batch; act on new flags and return them.

        A rule that fails does not stop the others; the first failure is raised after the flags of
        the rest were acted on (the runtime counts it in ``gb.health()``).
        """
        runs = [t for t in batch if t.root_span_id is not None and t.status in ("complete", "failed")]
        if not runs:
            return []
        self._recent = {}
        flags: list[Flag] = []
        problem: Exception | None = None
        for rule in (self._principles, self._gate_regressions, self._disparities, self._user_rules):
            try:
                flags += rule(runs)
            except Exception as exc:  # noqa: BLE001 - one rule (or its query) failing must not stop the rest
                problem = problem or exc
        fresh = self._act(flags)
        if problem is not None:
            raise problem
        return fresh

    # -- dedup -------------------------------------------------------------------------------
    def _window_ns(self, days: float | None) -> int:
        return int((days if days is not None else self.settings.window_days) * 86_400e9)

    def _since(self, days: float | None = None) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days or self.settings.window_days)

    def _flagged_lately(self, project: str | None, rule: str, subject: str, days: float | None = None) -> bool:
        """Whether this rule already flagged this subject of the project within the window."""
        recent = self._recent.get(project)
        if recent is None:
            from glassbox.scoring import calibration_rules

            longest = max([self.settings.window_days] + [r.window_days or 0 for r in calibration_rules()])
            c = alerts.c
            with self.store.engine.connect() as conn:
                rows = conn.execute(
                    select(c.rule, c.dims, c.at_ns).where(
                        c.source == "calibration", c.project == project, c.at >= self._since(longest)
                    )
                ).all()
            recent = self._recent[project] = {}
            for r, dims, at_ns in rows:
                key = (r, str((dims or {}).get("subject", "")))
                recent[key] = max(recent.get(key, 0), at_ns or 0)
        at = recent.get((rule, subject))
        return at is not None and at >= time.time_ns() - self._window_ns(days)

    # -- rules -------------------------------------------------------------------------------
    def _dim_value(self, name: str) -> Any:
        return sql.json_number(self.store.engine.dialect.name, scores.c.dimensions, name)

    def _threshold(self, score: Score, dim: str) -> float:
        fixed = self.settings.thresholds.get(dim)
        return fixed if fixed is not None else self.settings.gap_ratio * (score.max or 1.0)

    def _principles(self, runs: list[Trace]) -> list[Flag]:
        # (project, score, dimension, threshold) -> the newest run of the batch with that gap
        gaps: dict[tuple[str | None, str, str, float], Trace] = {}
        for t in sorted(runs, key=lambda r: r.start_ns):
            for s in _judged(t):
                for dim, v in s.dimensions.items():
                    limit = self._threshold(s, dim)
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and v < limit:
                        gaps[(t.project, s.name, dim, limit)] = t
        out = []
        for (project, name, dim, limit), t in gaps.items():
            subject = dim if name == "quality" else f"{name}.{dim}"
            if self._flagged_lately(project, "repeated_principle_failure", subject):
                continue
            stmt = (
                select(func.count(func.distinct(scores.c.trace_id)))
                .select_from(scores)
                .join(traces, traces.c.trace_id == scores.c.trace_id)
                .where(
                    traces.c.project == project,
                    traces.c.started_at >= self._since(),
                    # Counted as of this run: the after step may see later runs already stored (the
                    # database lane runs ahead), and the alert belongs to the run that made it N times.
                    traces.c.started_at <= started_at(t.start_ns),
                    scores.c.name == name,
                    self._dim_value(dim) < limit,
                )
            )
            with self.store.engine.connect() as conn:
                n = int(conn.execute(stmt).scalar() or 0)
            if n < self.settings.min_failures:
                continue
            days = f"{self.settings.window_days:g}"
            which = "" if name == "quality" else f" ({name})"
            out.append(
                Flag(
                    "repeated_principle_failure",
                    subject,
                    f"Principle {dim}{which} has scored below threshold {limit:g} {n} times in the last "
                    f"{days} days (project {project})",
                    t,
                    {
                        "principle": dim,
                        "score": name,
                        "failures": n,
                        "threshold": limit,
                        "window_days": self.settings.window_days,
                    },
                )
            )
        return out

    def _gate_regressions(self, runs: list[Trace]) -> list[Flag]:
        by_workflow = self.settings.gate_scope == "workflow"
        c = traces.c
        out = []
        for t in sorted(runs, key=lambda r: r.start_ns):
            if t.gate_passed is not False:
                continue
            what = (t.workflow or t.name or "") if by_workflow else f"project {t.project}"
            subject = (t.workflow or t.name or "") if by_workflow else ""
            if self._flagged_lately(t.project, "quality_gate_regression", subject):
                continue
            conds = [
                c.project == t.project,
                c.trace_id != t.trace_id,
                c.gate_passed.is_not(None),
                c.started_at < _naive_utc(t.start_ns),
            ]
            if by_workflow:
                conds.append(c.workflow == t.workflow)  # None: IS NULL
            with self.store.engine.connect() as conn:
                prev = conn.execute(
                    select(c.trace_id, c.gate_passed).where(*conds).order_by(c.started_at.desc()).limit(1)
                ).first()
            if prev is None or not prev.gate_passed:
                continue
            q = t._quality()
            why = ""
            if q is not None and (q.comment or "").startswith("scorer failed"):
                why = f" (its quality scorer failed: {q.comment})"
            out.append(
                Flag(
                    "quality_gate_regression",
                    subject,
                    f"Quality gate failed for {what} run {t.trace_id[:12]} after the previous run "
                    f"{prev.trace_id[:12]} passed{why}",
                    t,
                    {"previous_trace_id": prev.trace_id, "workflow": t.workflow, "scope": self.settings.gate_scope},
                    "critical",
                )
            )
        return out

    def _disparities(self, runs: list[Trace]) -> list[Flag]:
        s = self.settings
        c = traces.c
        base = [c.started_at >= self._since(), c.quality_score.is_not(None)]
        out: list[Flag] = []
        for project in {t.project for t in runs}:
            scored = [(t, q) for t in runs if t.project == project and (q := t._quality()) is not None]
            if not scored or time.monotonic() < self._disparity_next.get(project, 0.0):
                continue  # the averages did not change (or barely: see DISPARITY_BIG)
            threshold = s.disparity if s.disparity is not None else max(q.max or 1.0 for _, q in scored) / 6
            pending = {(dim, v): t for dim in DISPARITY_DIMS for t, _ in scored if (v := getattr(t, dim))}
            pending = {
                k: t
                for k, t in pending.items()
                if not self._flagged_lately(project, "dimension_disparity", f"{k[0]}={k[1]}")
            }
            if not pending:
                continue
            with self.store.engine.connect() as conn:
                overall, total = conn.execute(
                    select(func.avg(c.quality_score), func.count()).where(*base, c.project == project)
                ).one()
                if total >= DISPARITY_BIG:
                    self._disparity_next[project] = time.monotonic() + DISPARITY_EVERY_S
                if overall is None or total < s.min_runs:
                    continue
                for dim in DISPARITY_DIMS:
                    values = sorted(v for d, v in pending if d == dim)
                    if not values:
                        continue
                    # The overall average is read in the same statement as the groups' (one snapshot): the
                    # writer may store more runs between two queries, and a group's newest runs set against
                    # an older overall average read as a gap that never existed.
                    now = select(func.avg(c.quality_score)).where(*base, c.project == project).scalar_subquery()
                    groups = conn.execute(
                        select(c[dim], func.avg(c.quality_score), func.count(), now)
                        .where(*base, c.project == project, c[dim].in_(values))
                        .group_by(c[dim])
                    ).all()
                    for value, avg, n, overall in sorted(groups, key=lambda g: str(g[0])):
                        if avg is None or n < s.min_runs or overall - avg < threshold - _EPS:
                            continue
                        out.append(
                            Flag(
                                "dimension_disparity",
                                f"{dim}={value}",
                                f"{value} {dim} runs average {avg:.2f} quality vs {overall:.2f} overall "
                                f"({n} runs, last {s.window_days:g} days)",
                                pending[(dim, value)],
                                {
                                    "dimension": dim,
                                    "value": value,
                                    "average": avg,
                                    "overall": overall,
                                    "runs": n,
                                    "threshold": threshold,
                                },
                            )
                        )
        return out

    def _user_rules(self, runs: list[Trace]) -> list[Flag]:
        from glassbox.analysis.query import Query
        from glassbox.scoring import calibration_rules

        rules = calibration_rules()
        if not rules:
            return []
        query = Query(self.store)
        out = []
        for rule in rules:
            for t in runs:
                try:
                    result = rule.fn(t, query)
                except Exception as exc:  # noqa: BLE001 - a user's rule must not stop the others
                    log.warning(
                        "glassbox: calibration rule %r failed on trace %s: %s: %s",
                        rule.name,
                        t.trace_id,
                        type(exc).__name__,
                        exc,
                    )
                    continue
                out += [f for item in _messages(result) if (f := _user_flag(rule, t, item)) is not None]
        return out

    # -- actions -----------------------------------------------------------------------------
    def _act(self, flags: list[Flag]) -> list[Alert]:
        fresh: list[Alert] = []
        taken: set[tuple[str | None, str, str]] = set()
        for f in flags:
            project = f.trace.project
            key = (project, f.rule, f.subject)
            if key in taken or self._flagged_lately(project, f.rule, f.subject, f.window_days):
                continue  # deduplicated within the window (and within this batch)
            taken.add(key)
            fresh.append(
                Alert(
                    new_record_id(),
                    "calibration",
                    f.rule,
                    f.message,
                    f.severity,
                    {**f.dims, "subject": f.subject},
                    f.trace.trace_id,
                    project,
                    time.time_ns(),
                    key=f"calibration:{f.rule}:project={project}:{f.subject}",
                )
            )
        if not fresh:
            return []
        from glassbox.monitoring.alerts import fire_many

        fire_many(self.store, fresh, flag_traces=True)  # stored (dedup by key) and delivered to the receivers
        for a in fresh:
            log.warning("[CALIBRATION] %s", a.message)
        self._append_file(fresh)
        self.raised += len(fresh)
        return fresh

    def _append_file(self, items: list[Alert]) -> None:
        template = self.settings.alerts_file
        if not template:
            return
        by_path: dict[Path, list[Alert]] = {}
        for a in items:
            safe = re.sub(r"[^\w.-]", "_", a.project or "default").lstrip(".") or "default"
            by_path.setdefault(Path(template.replace("{project}", safe)), []).append(a)
        for path, group in by_path.items():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                new = not path.exists()
                with path.open("a", encoding="utf-8") as f:
                    if new:
                        f.write("# Calibration alerts\n\n")
                    for a in group:
                        when = _naive_utc(a.at_ns).strftime("%Y-%m-%d %H:%M:%SZ")
                        message = " ".join(a.message.split())  # one line per flag, whatever a rule returned
                        where = "" if f"(project {a.project})" in message else f"project {a.project}, "
                        f.write(
                            f"- {when} **{a.rule}** [{a.severity}] {message} ({where}trace `{a.trace_id}`, "
                            f"alert `{a.id}`)\n"
                        )
            except OSError as exc:
                log.warning("glassbox: cannot append to %s: %s", path, exc)


def _messages(result: Any) -> list[Any]:
    if result is None:
        return []
    if isinstance(result, (str, dict)):
        return [result]
    return list(result)


def _user_flag(rule: Any, t: Trace, item: Any) -> Flag | None:
    """A user rule's message (a string, or a dict with message/subject/severity) as a flag."""
    if isinstance(item, dict):
        message = str(item.get("message") or "")
        subject = str(item.get("subject") or message)
        severity = str(item.get("severity") or rule.severity)
    else:
        message = subject = str(item) if item else ""
        severity = rule.severity
    if not message:
        return None
    return Flag(rule.name, subject[:500], message[:2000], t, {"rule": rule.name}, severity, rule.window_days)
