"""Prometheus metrics: LLM-domain figures from stored runs, and the server's own health.

Names follow Prometheus conventions (base units: seconds, dollars as ``_usd``; counters end
in ``_total``). Each server (and ``gb.start_metrics_server``) has its own registry; both expose
the same names. Labels stay bounded: workflow, stage name, status, model version (the run's
release), provider, model, outcome, token direction, feedback kind and label — never a run's
name or input. Durations use the OTel GenAI duration buckets (0.01 s … 81.92 s), tokens per call
the GenAI token buckets, quality scores tenths of the common scales (0-1, 0-3, 0-5, 0-10, 0-100).

Series (docs/monitoring.md#metrics): ``glassbox_traces_total``, ``glassbox_run_errors_total``,
``glassbox_trace_duration_seconds``, ``glassbox_stages_total``, ``glassbox_stage_duration_seconds``,
``glassbox_llm_calls_total``, ``glassbox_llm_call_duration_seconds``, ``glassbox_llm_tokens_total``,
``glassbox_llm_tokens_per_call``, ``glassbox_llm_cost_usd_total``, ``glassbox_quality_score``,
``glassbox_budget_events_total``, ``glassbox_feedback_total``, ``glassbox_health_score``,
``glassbox_model_version_info``, and the ingest/writer series of ``glassbox serve``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, NamedTuple, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from glassbox.cost.dedupe import DUPLICATE_OF
from glassbox.model import Trace
from glassbox.monitoring.buckets import DURATION_BUCKETS_S, TOKEN_BUCKETS, score_buckets

QUALITY_BUCKETS = tuple(sorted({b for top in (1.0, 3.0, 5.0, 10.0, 100.0) for b in score_buckets(top)}))

K = TypeVar("K", bound=Hashable)


class Counted(NamedTuple):
    """What ``/metrics`` counted for a stored span: its usage then, and whether it counted as a call."""

    cost_usd: float | None
    tokens_in: int | None
    tokens_out: int | None
    call: bool

    @property
    def usage(self) -> bool:
        return self.cost_usd is not None or self.tokens_in is not None or self.tokens_out is not None

    @classmethod
    def of(cls, span: Any) -> Counted:
        usage = span.tokens_in is not None or span.tokens_out is not None or span.cost_usd is not None
        call = (usage or span.kind == "llm") and DUPLICATE_OF not in (span.attributes or {})
        return cls(span.cost_usd, span.tokens_in, span.tokens_out, call)


def _provider(s: Any) -> str:
    attrs: dict[str, Any] = s.attributes or {}
    return str(attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system") or "")


def _net(changes: dict[K, float], group: Callable[[K], Hashable]) -> dict[K, float]:
    """Non-negative increments whose sum per group is the changes' sum, or 0 when that is negative:
    what a label set lost is taken from what another gained (a counter cannot go down)."""
    owed: dict[Hashable, float] = {}
    for key, v in changes.items():
        if v < 0:
            owed[group(key)] = owed.get(group(key), 0) - v
    out: dict[K, float] = {}
    for key, v in changes.items():
        if v > 0:
            g = group(key)
            take = min(v, owed.get(g, 0))
            owed[g] = owed.get(g, 0) - take
            if v > take:
                out[key] = v - take
    return out


def _add(into: dict[K, float], more: dict[K, float]) -> None:
    for key, v in more.items():
        into[key] = into.get(key, 0) + v


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry()
        d = DURATION_BUCKETS_S
        # -- runs and stages
        self.traces = Counter(
            "glassbox_traces_total",
            "Runs stored, by final status.",
            ("workflow", "status", "model_version"),
            registry=r,
        )
        self.run_errors = Counter(
            "glassbox_run_errors_total",
            "Runs that failed or recorded a failed stage.",
            ("workflow", "model_version"),
            registry=r,
        )
        self.trace_seconds = Histogram(
            "glassbox_trace_duration_seconds", "Run durations.", ("workflow", "model_version"), buckets=d, registry=r
        )
        self.stages = Counter(
            "glassbox_stages_total",
            "Stages, by status (ok, error, unset).",
            ("workflow", "stage", "status", "model_version"),
            registry=r,
        )
        self.stage_seconds = Histogram(
            "glassbox_stage_duration_seconds",
            "Stage durations.",
            ("workflow", "stage", "model_version"),
            buckets=d,
            registry=r,
        )
        # -- LLM calls
        self.llm_calls = Counter(
            "glassbox_llm_calls_total",
            "LLM calls, by outcome (success, failure).",
            ("provider", "model", "outcome"),
            registry=r,
        )
        self.llm_seconds = Histogram(
            "glassbox_llm_call_duration_seconds",
            "LLM call durations (GenAI buckets).",
            ("provider", "model"),
            buckets=d,
            registry=r,
        )
        self.tokens = Counter(
            "glassbox_llm_tokens_total",
            "LLM tokens, by direction (input, output).",
            ("provider", "model", "direction"),
            registry=r,
        )
        self.tokens_per_call = Histogram(
            "glassbox_llm_tokens_per_call",
            "Tokens of one LLM call (GenAI buckets).",
            ("provider", "model", "direction"),
            buckets=TOKEN_BUCKETS,
            registry=r,
        )
        self.cost = Counter("glassbox_llm_cost_usd_total", "LLM cost in US dollars.", ("provider", "model"), registry=r)
        # -- quality, budgets, feedback
        self.quality = Histogram(
            "glassbox_quality_score",
            "Quality scores of runs, on their own scale.",
            ("workflow",),
            buckets=QUALITY_BUCKETS,
            registry=r,
        )
        self.budget = Counter("glassbox_budget_events_total", "Budget warnings and halts.", ("event",), registry=r)
        self.feedback = Counter(
            "glassbox_feedback_total", "Feedback received, by kind and sentiment label.", ("kind", "label"), registry=r
        )
        # -- state
        self.health = Gauge(
            "glassbox_health_score", "Health 0-100 (100: every component ok).", registry=r, multiprocess_mode="min"
        )
        self.model_version = Gauge(
            "glassbox_model_version_info",
            "The current model version (release): 1.",
            ("model_version",),
            registry=r,
            multiprocess_mode="max",
        )
        self._current_version: str | None = None
        self._newest_ns = 0
        # (Drift gauges: glassbox.server.drift_routes registers glassbox_drift_* on this registry.)
        # -- the server's ingest path
        self.spans_received = Counter(
            "glassbox_ingest_spans_received_total", "Spans accepted by the OTLP receiver.", registry=r
        )
        self.spans_rejected = Counter(
            "glassbox_ingest_spans_rejected_total",
            "Spans refused one by one (invalid ids, another project's trace).",
            ("reason",),
            registry=r,
        )
        self.requests_rejected = Counter(
            "glassbox_ingest_requests_rejected_total",
            "Export requests refused whole (malformed, too large, overloaded).",
            ("reason",),
            registry=r,
        )
        self.traces_written = Counter(
            "glassbox_ingest_traces_written_total", "Traces (segments) stored by the writer.", registry=r
        )
        self.spans_written = Counter("glassbox_ingest_spans_written_total", "Spans stored by the writer.", registry=r)
        self.store_errors = Counter(
            "glassbox_store_write_errors_total", "Failed store writes (transient: retried).", registry=r
        )
        # Gauges of one process: "livesum"/"max" keep them meaningful under PROMETHEUS_MULTIPROC_DIR.
        self.queue_depth = Gauge(
            "glassbox_ingest_queue_depth", "Traces waiting for the writer.", registry=r, multiprocess_mode="livesum"
        )
        self.writer_lag = Gauge(
            "glassbox_writer_lag_seconds", "Wait of the oldest queued trace.", registry=r, multiprocess_mode="livemax"
        )
        self.health.set(100)

    def observe(self, traces: Iterable[Trace]) -> None:
        """Feed stored runs into the metrics (writer thread: never the request or app path).

        Values are grouped by label set first: a ``labels()`` lookup costs more than an observation.

        A segment of a trace already stored may carry a ``counted`` map (the receiver's writer sets it,
        server/ingest.py): its spans the store already held, with what ``/metrics`` counted for them
        then. Those spans were counted once already (run, stage, call); cost and tokens add only
        what changed. Counters never go down (Prometheus reads a drop as a restart), so a change
        is netted within the trace: a call whose carrier moves to a new span (cost/dedupe.py) adds
        the new carrier's cost minus the old one's, under the new carrier's labels, and nothing
        when that is negative (the counter then stays above the stored total by the difference).
        """
        stages: dict[tuple[str, str, str], list[float]] = {}
        stage_counts: dict[tuple[str, str, str, str], int] = {}
        tokens: dict[tuple[str, str, str], float] = {}
        cost: dict[tuple[str, str], float] = {}
        for t in traces:
            wf = t.workflow or ""  # never the run's name: it is often the user's question (unbounded labels)
            release = t.release or ""
            root_id = t.root_span_id
            counted: dict[str, Counted] = getattr(t, "counted", None) or {}
            # Calls already counted whose carrier is now one of this segment's new spans.
            taken_over = {
                (s.attributes or {}).get(DUPLICATE_OF)
                for s in t.spans
                if s.span_id in counted and counted[s.span_id].call and DUPLICATE_OF in (s.attributes or {})
            }
            t_tokens: dict[tuple[str, str, str], float] = tokens if not counted else {}
            t_cost: dict[tuple[str, str], float] = cost if not counted else {}
            stage_failed = False
            for s in t.spans:
                if s.status == "error":
                    stage_failed = True
                before = counted.get(s.span_id)
                if before is not None:
                    if s.tokens_in is not None or s.tokens_out is not None or s.cost_usd is not None or before.usage:
                        self._usage_change(s, before, t_tokens, t_cost)
                    continue
                if s.span_id != root_id and s.end_ns is not None:
                    key = (wf, s.name, release)
                    seconds = (s.end_ns - s.start_ns) / 1e9
                    got = stages.get(key)
                    if got is None:
                        stages[key] = [seconds]
                    else:
                        got.append(seconds)
                    ckey = (wf, s.name, s.status, release)
                    stage_counts[ckey] = stage_counts.get(ckey, 0) + 1
                if s.tokens_in is not None or s.tokens_out is not None or s.cost_usd is not None or s.kind == "llm":
                    self._llm_call(s, t_tokens, t_cost, new_call=s.span_id not in taken_over)
            if counted:
                _add(tokens, _net(t_tokens, lambda k: k[2]))
                _add(cost, _net(t_cost, lambda k: ()))
            if root_id is not None and root_id not in counted and t.status in ("complete", "failed"):
                self._run(t, wf, release, stage_failed)
            for e in t.events:
                if e.name in ("budget.warned", "budget.exceeded"):
                    self.budget.labels(e.name.split(".")[1]).inc()
            for f in getattr(t, "feedback", ()) or ():
                self.feedback.labels(f.kind or "", getattr(f, "label", None) or "").inc()
        for key, values in stages.items():
            child = self.stage_seconds.labels(*key)
            for v in values:
                child.observe(v)
        for ckey, n in stage_counts.items():
            self.stages.labels(*ckey).inc(n)
        for key, n in tokens.items():
            if n > 0:
                self.tokens.labels(*key).inc(n)
        for key, usd in cost.items():
            if usd > 0:
                self.cost.labels(*key).inc(usd)

    def _run(self, t: Trace, wf: str, release: str, stage_failed: bool) -> None:
        """Count one finished run (its root is in this segment, and was not counted before)."""
        self.traces.labels(wf, t.status, release).inc()
        if t.status == "failed" or stage_failed:
            self.run_errors.labels(wf, release).inc()
        if t.end_ns is not None:
            self.trace_seconds.labels(wf, release).observe((t.end_ns - t.start_ns) / 1e9)
        q = t.quality_score
        if q is not None:
            self.quality.labels(wf).observe(q)
        if release and t.start_ns >= self._newest_ns:
            self._set_version(release, t.start_ns)

    def _llm_call(
        self,
        s: Any,
        tokens: dict[tuple[str, str, str], float],
        cost: dict[tuple[str, str], float],
        new_call: bool = True,
    ) -> None:
        """Count one LLM span. A duplicate of another span's call (cost/dedupe.py) is not a call of its
        own; ``new_call`` False: the call was counted already under the span that carried it before."""
        attrs: dict[str, Any] = s.attributes or {}
        provider, model = _provider(s), s.model or ""
        if new_call and DUPLICATE_OF not in attrs:
            self.llm_calls.labels(provider, model, "failure" if s.status == "error" else "success").inc()
            if s.end_ns is not None:
                self.llm_seconds.labels(provider, model).observe((s.end_ns - s.start_ns) / 1e9)
            for direction, n in (("input", s.tokens_in), ("output", s.tokens_out)):
                if n:
                    self.tokens_per_call.labels(provider, model, direction).observe(n)
        for direction, n in (("input", s.tokens_in), ("output", s.tokens_out)):
            if n:
                tokens[(provider, model, direction)] = tokens.get((provider, model, direction), 0) + n
        if s.cost_usd:
            cost[(provider, model)] = cost.get((provider, model), 0.0) + s.cost_usd

    @staticmethod
    def _usage_change(
        s: Any, before: Counted, tokens: dict[tuple[str, str, str], float], cost: dict[tuple[str, str], float]
    ) -> None:
        """What a span counted before changed to (a stored carrier that lost its call: negative)."""
        provider, model = _provider(s), s.model or ""
        for direction, now, then in (
            ("input", s.tokens_in, before.tokens_in),
            ("output", s.tokens_out, before.tokens_out),
        ):
            change = (now or 0) - (then or 0)
            if change:
                tokens[(provider, model, direction)] = tokens.get((provider, model, direction), 0) + change
        change_usd = (s.cost_usd or 0.0) - (before.cost_usd or 0.0)
        if change_usd:
            cost[(provider, model)] = cost.get((provider, model), 0.0) + change_usd

    def _set_version(self, release: str, start_ns: int) -> None:
        """The newest run's release is the current model version (1); the one it replaced drops to 0."""
        self._newest_ns = start_ns
        if release != self._current_version:
            if self._current_version is not None:
                self.model_version.labels(self._current_version).set(0)
            self.model_version.labels(release).set(1)
            self._current_version = release


def exposition_registry(metrics: Metrics) -> CollectorRegistry:
    """The registry to serve: every process's values under PROMETHEUS_MULTIPROC_DIR, else this one's."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return metrics.registry


_servers: dict[tuple[str, int], Any] = {}


def start_metrics_server(rt: Any, port: int = 9189, addr: str = "127.0.0.1") -> Metrics:
    """Serve the app's own metrics on ``addr:port`` (``gb.start_metrics_server``); runs fed by its writer.

    Under ``PROMETHEUS_MULTIPROC_DIR`` (gunicorn/uvicorn workers), every process records into the
    folder and whichever process binds the port first serves the sum: the others' failure to bind
    is expected and quiet. Calling it again with the same address serves nothing new. Also started
    by the ``metrics_port`` setting (``GLASSBOX_METRICS_PORT``) at configure.
    """
    import logging
    import os

    from glassbox.app_health import start_server  # metrics, plus the app's /health/full (gb.health_check)

    metrics = getattr(rt, "metrics", None)
    if metrics is None:
        metrics = rt.metrics = Metrics()
    if (addr, port) in _servers:
        return metrics
    try:
        _servers[(addr, port)] = start_server(port, addr, exposition_registry(metrics))
    except OSError as exc:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return metrics  # another worker serves the aggregate; this one still records
        logging.getLogger("glassbox").warning("glassbox: cannot serve metrics on %s:%d: %s", addr, port, exc)
    return metrics


def writer_health_score(health: dict[str, Any]) -> float:
    """0-100 from the recorder's health: 100 without sink errors or drops since the last scrape, 50 otherwise."""
    sinks = health.get("sinks") or {}
    failing = any(s.get("errors") for s in sinks.values()) if isinstance(sinks, dict) else False
    return 50.0 if failing or health.get("dropped") else 100.0
