"""Service level objectives over stored runs: SLIs, error budgets, burn rates, multi-window alerts.

An SLO is declared in glassbox.toml (``[[slo]]``) or in Python (``SLO(...)``)::

    [[slo]]
    name = "availability"
    sli = "availability"        # availability | latency | quality | error_rate | ratio
    objective = 0.999           # (or 99.9)
    window = "30d"              # rolling; "month" / "week" are calendar windows (UTC)
    workflow = "search_qa"      # optional, like project, stage (latency), filters = { environment = "prod" }

SLIs (each event is one finished run, ``complete`` or ``failed``, started in the window):

* ``availability``: the run did not fail;
* ``latency``: the run (or its stage named ``stage``) took at most ``threshold_ms``, which must be a
  bucket boundary of the GenAI duration histogram (so Prometheus rules compute the same SLI);
* ``quality``: the run's quality score is at least ``min_score`` (runs without a score do not count);
* ``error_rate``: the run neither failed nor recorded a failed stage;
* ``ratio``: runs matching ``good`` (trace filters) among runs matching ``total`` (default: every run).

Burn rates follow the SRE Workbook (chapter 5, table 5-8): the error ratio over a window divided by
the error budget (1 - objective). An alert fires when *both* the long and the short window (long/12)
burn faster than its factor: page (critical) at 14.4x over 1h/5m or 6x over 6h/30m, ticket (warning)
at 3x over 1d/2h or 1x over 3d/6h. The factors are the Workbook's for a 30-day objective.

One grouped query per SLO reads per-minute counts from a covering index of ``traces`` (status, start
time, project, workflow, environment, release, service, duration, quality; error rates add the failed
spans' partial index, stage latency the spans' (trace id, name, duration) index); every window, the
budget and the burn-down are folded from them in Python. Filters on other columns (intent, tags,
metadata, ...) read the runs' rows and are slower.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, select

from glassbox.errors import GlassboxError, NotFound, QueryError
from glassbox.monitoring.buckets import DURATION_BUCKETS_S
from glassbox.store.schema import SPAN_FAILED, spans, traces

if TYPE_CHECKING:
    from glassbox.store.store import Store

SLIS = ("availability", "latency", "quality", "error_rate", "ratio")
MINUTE_NS = 60_000_000_000
# (severity, long window, short window, burn-rate factor): SRE Workbook table 5-8; short = long / 12.
BURN_ALERTS = (
    ("page", timedelta(hours=1), timedelta(minutes=5), 14.4),
    ("page", timedelta(hours=6), timedelta(minutes=30), 6.0),
    ("ticket", timedelta(days=1), timedelta(hours=2), 3.0),
    ("ticket", timedelta(days=3), timedelta(hours=6), 1.0),
)
SEVERITY = {"page": "critical", "ticket": "warning"}
_KEYS = {
    "name",
    "sli",
    "objective",
    "window",
    "workflow",
    "stage",
    "project",
    "service",
    "threshold_ms",
    "min_score",
    "good",
    "total",
    "filters",
    "description",
}


class SLOError(GlassboxError):
    """An SLO definition is wrong (names the SLO and the key)."""


class SLONotFound(NotFound):
    """No SLO with that name is defined."""


@dataclass
class SLO:
    name: str
    sli: str
    objective: float
    window: str = "30d"
    workflow: str | None = None
    stage: str | None = None
    project: str | None = None
    service: str | None = None  # the `service` label of the Prometheus rules (default: the project)
    threshold_ms: float | None = None
    min_score: float | None = None
    good: dict[str, Any] = field(default_factory=dict)
    total: dict[str, Any] = field(default_factory=dict)
    filters: dict[str, Any] = field(default_factory=dict)
    description: str | None = None

    def __post_init__(self) -> None:
        where = f"SLO {self.name!r}"
        if not self.name or not str(self.name).replace("_", "").replace("-", "").isalnum():
            raise SLOError(f"SLO name {self.name!r}: use letters, digits, _ and - only")
        if self.sli not in SLIS:
            raise SLOError(f"{where}: sli must be one of {', '.join(SLIS)}, not {self.sli!r}")
        obj = float(self.objective)
        obj = obj / 100 if 1 < obj < 100 else obj
        if not 0 < obj < 1:
            raise SLOError(f"{where}: objective must be between 0 and 1 (or a percentage), not {self.objective!r}")
        self.objective = obj
        window_length(self.window, where)
        if self.sli == "latency":
            if self.threshold_ms is None:
                raise SLOError(f"{where}: a latency SLO needs threshold_ms")
            if not any(math.isclose(self.threshold_ms / 1000, b) for b in DURATION_BUCKETS_S):
                edges = ", ".join(f"{b * 1000:g}" for b in DURATION_BUCKETS_S)
                raise SLOError(
                    f"{where}: threshold_ms {self.threshold_ms:g} is not a bucket boundary of the "
                    f"duration histogram; use one of {edges}"
                )
        elif self.stage is not None:
            raise SLOError(f"{where}: stage applies to latency SLOs only")
        if self.sli == "quality" and self.min_score is None:
            raise SLOError(f"{where}: a quality SLO needs min_score")
        if self.sli == "ratio" and not self.good:
            raise SLOError(f"{where}: a ratio SLO needs good (trace filters, e.g. {{ min_score = 0.8 }})")
        from glassbox.analysis.filters import check

        for part in ("good", "total", "filters"):
            try:
                check(getattr(self, part))
            except QueryError as exc:
                raise SLOError(f"{where}: {part}: {exc}") from None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SLO:
        name = d.get("name")
        unknown = sorted(set(d) - _KEYS)
        if unknown:
            raise SLOError(f"SLO {name!r}: unknown key {unknown[0]!r}; known: {', '.join(sorted(_KEYS))}")
        for key in ("name", "sli", "objective"):
            if key not in d:
                raise SLOError(f"SLO {name!r}: missing {key!r}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, {}, [])}

    @property
    def budget(self) -> float:
        return 1.0 - self.objective


def window_length(window: str, where: str = "SLO") -> timedelta | None:
    """A rolling window's length (``30d``, ``7d``, ``24h``); None for a calendar window (``month``, ``week``)."""
    w = str(window).strip().lower()
    if w in ("month", "week"):
        return None
    try:
        n, unit = float(w[:-1]), w[-1]
        length = {"d": timedelta(days=n), "h": timedelta(hours=n), "w": timedelta(weeks=n)}[unit]
    except (ValueError, KeyError):
        raise SLOError(f"{where}: window must look like 30d, 7d, 24h, 4w, or be month / week, not {window!r}") from None
    if length < timedelta(hours=1):
        raise SLOError(f"{where}: window {window!r} is shorter than an hour")
    return length


def window_start(window: str, now: datetime) -> datetime:
    """Start of the window ending ``now`` (naive UTC)."""
    length = window_length(window)
    if length is not None:
        return now - length
    if window.strip().lower() == "month":
        return datetime(now.year, now.month, 1)
    day = datetime(now.year, now.month, now.day)
    return day - timedelta(days=day.weekday())


# -- counting --------------------------------------------------------------------------------------
def _conditions(slo: SLO, dialect: str, since: datetime) -> tuple[list[Any], Any]:
    """(conditions every event meets, the condition of a good one) on the traces table."""
    from glassbox.analysis.filters import check, conditions

    c = traces.c
    base: list[Any] = [c.started_at >= since, c.status.in_(("complete", "failed"))]
    scope = {
        **slo.filters,
        **({"project": slo.project} if slo.project else {}),
        **({"workflow": slo.workflow} if slo.workflow else {}),
    }
    base += conditions(check(scope), dialect)
    if slo.sli == "availability":
        good = c.status == "complete"
    elif slo.sli == "latency":
        base.append(c.duration_ms.is_not(None))
        good = c.duration_ms <= slo.threshold_ms
    elif slo.sli == "quality":
        base.append(c.quality_score.is_not(None))
        good = c.quality_score >= slo.min_score
    elif slo.sli == "error_rate":
        good = c.status == "complete"  # minus the complete runs with a failed stage (``minute_counts``)
    else:
        base += conditions(check(slo.total), dialect)
        good = and_(True, *conditions(check(slo.good), dialect))
    return base, good


def minute_counts(
    store: Store,
    slo: SLO,
    since: datetime,
    fine_since: datetime | None = None,
) -> list[tuple[int, int, int]]:
    """(minute since the epoch, events, good events) for the SLO's runs started at or after ``since``.

    Runs before ``fine_since`` (default: none) are counted by hour, under the hour's first minute: the
    burn-rate windows need minutes only for the last 3 days, and hours make a 30-day read 8x fewer groups.
    """
    store.ready()
    minute = traces.c.start_ns.op("/")(MINUTE_NS)  # integer division on both engines (BIGINT / BIGINT)
    if fine_since is not None:
        fine_ns = int(fine_since.replace(tzinfo=UTC).timestamp() * 1e9)
        minute = case((traces.c.start_ns >= fine_ns, minute), else_=traces.c.start_ns.op("/")(60 * MINUTE_NS) * 60)
    base, good = _conditions(slo, store.dialect, since)
    if slo.sli == "latency" and slo.stage is not None:
        # the stage's spans in the window's runs, bucketed by their run's start
        good_span = spans.c.duration_ms <= slo.threshold_ms
        q = (
            select(minute.label("m"), func.count(), func.sum(case((good_span, 1), else_=0)))
            .select_from(traces.join(spans, spans.c.trace_id == traces.c.trace_id))
            .where(*[b for b in base if b is not None], spans.c.name == slo.stage, spans.c.duration_ms.is_not(None))
            .group_by("m")
        )
    else:
        q = select(minute.label("m"), func.count(), func.sum(case((good, 1), else_=0))).where(*base).group_by("m")
    with store.engine.connect() as conn:
        out = {int(m): [int(n), int(g or 0)] for m, n, g in conn.execute(q)}
        if slo.sli == "error_rate":
            # complete runs that recorded a failed stage: found from the failed spans' partial index
            failed = (
                select(minute.label("m"), func.count(func.distinct(traces.c.trace_id)))
                .select_from(spans.join(traces, traces.c.trace_id == spans.c.trace_id))
                .where(SPAN_FAILED, *base, traces.c.status == "complete")
                .group_by("m")
            )
            for m, n in conn.execute(failed):
                out[int(m)][1] -= int(n)
    return [(m, n, g) for m, (n, g) in sorted(out.items())]


# -- status ----------------------------------------------------------------------------------------
@dataclass
class BurnWindow:
    severity: str
    long: str
    short: str
    factor: float
    long_rate: float | None
    short_rate: float | None
    firing: bool


@dataclass
class SLOStatus:
    slo: SLO
    now: datetime
    events: int
    good: int
    sli: float | None
    budget_remaining: float | None  # share of the error budget left (negative once overspent)
    time_to_exhaustion_s: float | None  # at the last hour's burn rate; None: not burning
    burn_rates: dict[str, float | None]  # window -> burn rate
    alerts: list[BurnWindow]
    burn_down: list[tuple[str, float]]  # (hour, budget remaining) through the window

    @property
    def firing(self) -> list[BurnWindow]:
        return [a for a in self.alerts if a.firing]

    @property
    def met(self) -> bool | None:
        return None if self.sli is None else self.sli >= self.slo.objective

    def to_dict(self) -> dict[str, Any]:
        return {
            "slo": self.slo.to_dict(),
            "as_of": self.now.isoformat() + "Z",
            "events": self.events,
            "good": self.good,
            "sli": self.sli,
            "objective": self.slo.objective,
            "met": self.met,
            "error_budget": self.slo.budget,
            "budget_remaining": self.budget_remaining,
            "time_to_exhaustion_s": self.time_to_exhaustion_s,
            "burn_rates": self.burn_rates,
            "alerts": [asdict(a) for a in self.alerts],
            "firing": [f"{a.severity}:{a.long}/{a.short}" for a in self.firing],
            "burn_down": [{"at": t, "budget_remaining": r} for t, r in self.burn_down],
        }


def _label(d: timedelta) -> str:
    s = int(d.total_seconds())
    return f"{s // 86400}d" if s % 86400 == 0 else f"{s // 3600}h" if s % 3600 == 0 else f"{s // 60}m"


def burn_rate(bad: int, total: int, budget: float) -> float | None:
    """Error ratio over the error budget; None without events."""
    return None if total == 0 else (bad / total) / budget


def evaluate(
    slo: SLO,
    counts: list[tuple[int, int, int]],
    now: datetime,
    coarse_before: int | None = None,
) -> SLOStatus:
    """The SLO's status from per-minute counts (pure: the math the tests check by hand).

    ``coarse_before``: counts before this minute are hourly (keyed by the hour's first minute).
    """
    now_min = int(now.replace(tzinfo=UTC).timestamp() * 1e9) // MINUTE_NS

    def since(d: timedelta) -> tuple[int, int]:
        first = now_min - int(d.total_seconds() // 60)  # minutes (first, now]: d's worth of buckets
        n = g = 0
        for m, total, good in counts:
            if m > first:
                n += total
                g += good
        return n, n - g

    start = window_start(slo.window, now)
    start_min = int(start.replace(tzinfo=UTC).timestamp() * 1e9) // MINUTE_NS
    if coarse_before is not None and start_min < coarse_before:
        start_min -= start_min % 60  # the hour the window starts in: its runs were read from the window start on
    events = sum(n for m, n, _ in counts if m >= start_min)
    good = sum(g for m, _, g in counts if m >= start_min)
    bad = events - good
    budget = slo.budget
    sli = good / events if events else None
    remaining = None if not events else 1.0 - (bad / events) / budget
    windows = sorted({d for _, lng, sht, _ in BURN_ALERTS for d in (lng, sht)})
    rates: dict[str, float | None] = {}
    for d in windows:
        n_w, bad_w = since(d)
        rates[_label(d)] = burn_rate(bad_w, n_w, budget)
    alerts = []
    for sev, lng, sht, factor in BURN_ALERTS:
        lr, sr = rates[_label(lng)], rates[_label(sht)]
        alerts.append(
            BurnWindow(
                sev,
                _label(lng),
                _label(sht),
                factor,
                lr,
                sr,
                lr is not None and sr is not None and lr > factor and sr > factor,
            )
        )
    current = rates["1h"]
    length = now - start if window_length(slo.window) is None else window_length(slo.window)
    tte = None
    if remaining is not None and remaining <= 0:
        tte = 0.0  # already spent
    elif remaining is not None and current:
        # the budget burns at `current` x its sustainable rate, i.e. all of it in length / current
        tte = max(0.0, remaining) * length.total_seconds() / current  # type: ignore[union-attr]
    return SLOStatus(
        slo,
        now,
        events,
        good,
        sli,
        remaining,
        tte,
        rates,
        alerts,
        _burn_down(counts, start_min, now_min, events, budget),
    )


def _burn_down(
    counts: list[tuple[int, int, int]], start_min: int, now_min: int, events: int, budget: float
) -> list[tuple[str, float]]:
    """Budget remaining hour by hour through the window, against the window's events so far."""
    if not events:
        return []
    bad_by_hour: dict[int, int] = {}
    for m, n, g in counts:
        if m >= start_min:
            bad_by_hour[(m - start_min) // 60] = bad_by_hour.get((m - start_min) // 60, 0) + n - g
    out, spent = [], 0
    allowed = budget * events
    for h in range((now_min - start_min) // 60 + 1):
        spent += bad_by_hour.get(h, 0)
        at = datetime.fromtimestamp((start_min + h * 60) * 60, UTC).strftime("%Y-%m-%dT%H:%MZ")
        out.append((at, round(1.0 - spent / allowed, 6)))
    return out


def status(store: Store, slo: SLO, now: datetime | None = None) -> SLOStatus:
    """One SLO's status now: one indexed query, then ``evaluate``."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    longest = max([timedelta(days=3), now - window_start(slo.window, now)])
    fine = now - timedelta(days=3, hours=1)  # whole hours before the burn-rate windows
    fine = fine.replace(minute=0, second=0, microsecond=0)
    since = window_start(slo.window, now) if longest > timedelta(days=3) else now - longest - timedelta(minutes=1)
    fine_min = int(fine.replace(tzinfo=UTC).timestamp()) // 60
    return evaluate(slo, minute_counts(store, slo, since, fine), now, fine_min)


# -- definitions ------------------------------------------------------------------------------------
_defined: dict[str, SLO] = {}


def define(slo: SLO, *, on_alert: Any = None) -> SLO:
    """Add an SLO in Python (beside glassbox.toml's ``[[slo]]``); the same name replaces it.

    ``on_alert(alert)``: called (off the checking thread) when this SLO's page or ticket alert fires or
    resolves; ``alert.severity`` is critical (page) or warning (ticket).
    """
    _defined[slo.name] = slo
    if on_alert is not None:
        from glassbox.monitoring.notifiers import on_alert as register

        name = slo.name
        register(lambda a: on_alert(a) if a.dims.get("slo") == name else None, source="slo")
    return slo


def load(settings: Any = None) -> list[SLO]:
    """The SLOs of glassbox.toml / settings, then those defined in Python; names are unique."""
    if settings is None:
        from glassbox.config import load_settings

        settings = load_settings()
    out: dict[str, SLO] = {}
    for i, d in enumerate(settings.slo):
        if not isinstance(d, dict):
            raise SLOError(f"[[slo]] number {i + 1} is not a table")
        s = SLO.from_dict(dict(d))
        if s.name in out:
            raise SLOError(f"SLO name {s.name!r} is used twice in [[slo]]")
        out[s.name] = s
    out.update(_defined)
    return list(out.values())


def default_rag_slos() -> list[SLO]:
    """Starting SLOs for a RAG service (what ``glassbox slo init`` writes)."""
    return [
        SLO("availability", "availability", 0.999, description="Runs that do not fail"),
        SLO("latency", "latency", 0.99, threshold_ms=5120, description="Runs answered within 5.12 s"),
        SLO("quality", "quality", 0.95, min_score=0.8, description="Scored runs at quality 0.8 or better"),
        SLO("error_rate", "error_rate", 0.99, description="Runs without any failed stage"),
    ]


# -- checking and alerting ---------------------------------------------------------------------------
def alert_key(slo: SLO, severity: str) -> str:
    return f"slo:{slo.name}:{severity}" + (f":project={slo.project}" if slo.project else "")


def check(store: Store, slos: list[SLO], *, now: datetime | None = None, alert: bool = True) -> list[SLOStatus]:
    """Status of each SLO; with ``alert``, fire its page/ticket alerts while they burn and resolve them after."""
    out = []
    for slo in slos:
        st = status(store, slo, now)
        out.append(st)
        if alert:
            _alert(store, st)
    return out


def _alert(store: Store, st: SLOStatus) -> None:
    from glassbox.monitoring.alerts import fire, resolve

    slo = st.slo
    for sev in ("page", "ticket"):
        burning = [a for a in st.firing if a.severity == sev]
        key = alert_key(slo, sev)
        if not burning:
            resolve(store, key)
            continue
        worst = max(burning, key=lambda a: a.factor)
        left = "" if st.budget_remaining is None else f"; {100 * st.budget_remaining:.1f}% of the error budget left"
        fire(
            store,
            source="slo",
            rule=f"{slo.name}:{sev}",
            severity=SEVERITY[sev],
            key=key,
            project=slo.project,
            message=f"SLO {slo.name} burns its error budget {worst.long_rate:.1f}x over {worst.long} and "
            f"{worst.short_rate:.1f}x over {worst.short} (threshold {worst.factor:g}x){left}",
            dims={
                "slo": slo.name,
                "windows": f"{worst.long}/{worst.short}",
                "factor": worst.factor,
                "long_rate": round(worst.long_rate or 0, 4),
                "short_rate": round(worst.short_rate or 0, 4),
                "objective": slo.objective,
            },
        )


def timed_check(store: Store, slos: list[SLO]) -> tuple[list[SLOStatus], float]:
    """``check`` and the seconds it took (for the background job's health)."""
    t0 = time.perf_counter()
    return check(store, slos), time.perf_counter() - t0
