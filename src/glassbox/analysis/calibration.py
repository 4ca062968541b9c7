"""Calibration flags (seed 001, generalised): rules that spot patterns across runs.

After each batch of traces is stored, the engine runs on the writer thread — never on the
app's path, and never failing it. Built-in rules (thresholds in settings / glassbox.toml):

* ``repeated_principle_failure`` — a score dimension (a "principle") of this run is below
  ``calibration_gap_ratio`` x its score's maximum, and it has been so in at least
  ``calibration_min_failures`` runs of the project in the last ``calibration_window_days``.
* ``dimension_disparity`` — the runs of this run's intent / domain / workflow / release
  average at least ``calibration_disparity`` below the project's overall average quality
  (in the quality score's own units), with at least ``calibration_min_runs`` runs.
* ``quality_gate_regression`` — this run failed its quality gate and the project's previous
  run passed it.

User rules: ``@gb.calibration_rule("name")`` on ``fn(trace, query) -> str | list[str] | None``
(``query`` is a ``glassbox.analysis.query.Query`` over the store). Each message is a flag.

A flag is: a ``[CALIBRATION] …`` log line, an alert row (source ``calibration``), the trace
flagged for review, and a line appended to the alerts file (``.glassbox/calibration_alerts.md``).
Flags are deduplicated: the same rule and subject fire at most once per window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, Text, cast, func, select

from glassbox.ids import new_record_id
from glassbox.model import Alert, Trace
from glassbox.store.alerts import add_alerts
from glassbox.store.schema import alerts, scores, traces

if TYPE_CHECKING:
    from glassbox.store.store import Store

log = logging.getLogger("glassbox")

DISPARITY_DIMS = ("intent", "domain", "workflow", "release")


@dataclass
class CalibrationSettings:
    window_days: float = 7.0
    min_failures: int = 3
    gap_ratio: float = 0.6
    disparity: float = 0.5
    min_runs: int = 5
    alerts_file: str | None = ".glassbox/calibration_alerts.md"

    @classmethod
    def from_settings(cls, s: Any) -> CalibrationSettings:
        return cls(s.calibration_window_days, s.calibration_min_failures, s.calibration_gap_ratio,
                   s.calibration_disparity, s.calibration_min_runs, s.calibration_alerts_file)  # fmt: skip


@dataclass
class Flag:
    rule: str
    subject: str  # what the flag is about: dedup key within the rule
    message: str
    trace: Trace
    dims: dict[str, Any]
    severity: str = "warning"


class CalibrationEngine:
    """Runs the rules over each stored batch; see the module docstring."""

    def __init__(self, store: Store, settings: CalibrationSettings | None = None) -> None:
        self.store = store
        self.settings = settings or CalibrationSettings()
        self.raised = 0

    # -- entry point -------------------------------------------------------------------------
    def after_batch(self, batch: Iterable[Trace]) -> list[Alert]:
        runs = [t for t in batch if t.root_span_id is not None and t.status in ("complete", "failed")]
        if not runs:
            return []
        flags: list[Flag] = []
        for t in runs:
            flags += self._principles(t)
            flags += self._gate_regression(t)
            flags += self._user_rules(t)
        flags += self._disparities(runs)
        return self._act(flags)

    # -- helpers -----------------------------------------------------------------------------
    def _since(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None) - timedelta(days=self.settings.window_days)

    def _dim_value(self, name: str) -> Any:
        if self.store.engine.dialect.name == "postgresql":
            return cast(scores.c.dimensions.op("->>")(cast(name, Text)), Float)
        path = '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return func.json_extract(scores.c.dimensions, path)

    # -- rules -------------------------------------------------------------------------------
    def _principles(self, t: Trace) -> list[Flag]:
        q = t._quality()
        if q is None or not q.dimensions:
            return []
        limit = self.settings.gap_ratio * (q.max if q.max else 1.0)
        gaps = [d for d, v in q.dimensions.items() if isinstance(v, (int, float)) and v < limit]
        out = []
        for dim in gaps:
            value = self._dim_value(dim)
            stmt = (select(func.count(func.distinct(scores.c.trace_id))).select_from(scores)
                    .join(traces, traces.c.trace_id == scores.c.trace_id)
                    .where(traces.c.project == t.project, traces.c.started_at >= self._since(),
                           scores.c.name == q.name, value < limit))  # fmt: skip
            with self.store.engine.connect() as conn:
                n = int(conn.execute(stmt).scalar() or 0)
            if n >= self.settings.min_failures:
                days = f"{self.settings.window_days:g}"
                out.append(Flag("repeated_principle_failure", dim,
                                f"Principle {dim} has scored below threshold {limit:g} {n} times in the last "
                                f"{days} days (project {t.project})", t,
                                {"principle": dim, "failures": n, "threshold": limit, "window_days": days}))
        return out

    def _gate_regression(self, t: Trace) -> list[Flag]:
        if t.gate_passed is not False:
            return []
        c = traces.c
        started = datetime.fromtimestamp(t.start_ns / 1e9, UTC).replace(tzinfo=None)
        with self.store.engine.connect() as conn:
            prev = conn.execute(select(c.trace_id, c.gate_passed).where(
                c.project == t.project, c.trace_id != t.trace_id, c.gate_passed.is_not(None),
                c.started_at < started).order_by(c.started_at.desc()).limit(1)).first()  # fmt: skip
        if prev is None or not prev.gate_passed:
            return []
        return [Flag("quality_gate_regression", t.workflow or t.name or "",
                     f"Quality gate failed for {t.workflow or t.name} run {t.trace_id[:12]} "
                     f"after the previous run {prev.trace_id[:12]} passed", t,
                     {"previous_trace_id": prev.trace_id, "workflow": t.workflow}, "critical")]

    def _disparities(self, runs: list[Trace]) -> list[Flag]:
        s = self.settings
        c = traces.c
        base = [c.started_at >= self._since(), c.quality_score.is_not(None)]
        out: list[Flag] = []
        for project in {t.project for t in runs}:
            with self.store.engine.connect() as conn:
                overall = conn.execute(select(func.avg(c.quality_score), func.count()).where(
                    *base, c.project == project)).one()  # fmt: skip
                if overall[0] is None or overall[1] < s.min_runs:
                    continue
                for dim in DISPARITY_DIMS:
                    values = {getattr(t, dim) for t in runs if t.project == project and getattr(t, dim)}
                    for value in sorted(values):
                        avg, n = conn.execute(select(func.avg(c.quality_score), func.count()).where(
                            *base, c.project == project, c[dim] == value)).one()  # fmt: skip
                        if avg is None or n < s.min_runs or overall[0] - avg < s.disparity:
                            continue
                        t = next(r for r in runs if r.project == project and getattr(r, dim) == value)
                        out.append(Flag("dimension_disparity", f"{dim}={value}",
                                        f"{value} {dim} runs average {avg:.2f} quality vs {overall[0]:.2f} overall "
                                        f"({n} runs, last {s.window_days:g} days)", t,
                                        {"dimension": dim, "value": value, "average": avg, "overall": overall[0],
                                         "runs": n}))  # fmt: skip
        return out

    def _user_rules(self, t: Trace) -> list[Flag]:
        from glassbox.analysis.query import Query
        from glassbox.scoring import calibration_rules

        out = []
        for name, fn in calibration_rules():
            try:
                result = fn(t, Query(self.store))
            except Exception as exc:  # noqa: BLE001 - a user's rule must not stop the others
                log.warning("glassbox: calibration rule %r failed on trace %s: %s: %s", name, t.trace_id,
                            type(exc).__name__, exc)  # fmt: skip
                continue
            messages = [result] if isinstance(result, str) else list(result or [])
            out += [Flag(name, str(m), str(m), t, {"rule": name}) for m in messages if m]
        return out

    # -- actions -----------------------------------------------------------------------------
    def _recent(self, project: str | None) -> set[tuple[str, str]]:
        c = alerts.c
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(c.rule, c.dims).where(
                c.source == "calibration", c.at >= self._since(), c.project == project)).all()  # fmt: skip
        out = set()
        for rule, dims in rows:
            out.add((rule, str((dims or {}).get("subject", ""))))
        return out

    def _act(self, flags: list[Flag]) -> list[Alert]:
        if not flags:
            return []
        seen: dict[str | None, set[tuple[str, str]]] = {}
        fresh: list[Alert] = []
        for f in flags:
            project = f.trace.project
            recent = seen.setdefault(project, self._recent(project))
            key = (f.rule, f.subject)
            if key in recent:
                continue  # deduplicated within the window
            recent.add(key)
            fresh.append(Alert(new_record_id(), "calibration", f.rule, f.message, f.severity,
                               {**f.dims, "subject": f.subject}, f.trace.trace_id, project, time.time_ns()))
        if not fresh:
            return []
        add_alerts(self.store, fresh, flag_traces=True)
        for a in fresh:
            log.warning("[CALIBRATION] %s", a.message)
        self._append_file(fresh)
        self.raised += len(fresh)
        return fresh

    def _append_file(self, items: list[Alert]) -> None:
        path = self.settings.alerts_file
        if not path:
            return
        try:
            p = Path(path)
            p.parent.mkdir(parents=True, exist_ok=True)
            new = not p.exists()
            with p.open("a", encoding="utf-8") as f:
                if new:
                    f.write("# Calibration alerts\n\n")
                for a in items:
                    when = datetime.fromtimestamp(a.at_ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
                    f.write(f"- {when} **{a.rule}** {a.message} (trace `{a.trace_id}`, alert `{a.id}`)\n")
        except OSError as exc:
            log.warning("glassbox: cannot append to %s: %s", path, exc)


