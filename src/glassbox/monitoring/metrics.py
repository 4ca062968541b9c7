"""Prometheus metrics: LLM-domain figures from stored runs, and the server's own health.

Names follow Prometheus conventions (base units: seconds, dollars as ``_usd``; counters end
in ``_total``). Each server (and ``gb.start_metrics_server``) has its own registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from glassbox.model import Trace

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry()
        self.stage_seconds = Histogram("glassbox_stage_duration_seconds", "Stage durations.",
                                       ("workflow", "stage", "model_version"), buckets=_LATENCY_BUCKETS, registry=r)
        self.trace_seconds = Histogram("glassbox_trace_duration_seconds", "Run durations.", ("workflow",),
                                       buckets=_LATENCY_BUCKETS, registry=r)
        self.traces = Counter("glassbox_traces_total", "Runs stored, by final status.", ("workflow", "status"),
                              registry=r)
        self.tokens = Counter("glassbox_llm_tokens_total", "LLM tokens.", ("provider", "model", "direction"),
                              registry=r)
        self.cost = Counter("glassbox_llm_cost_usd_total", "LLM cost in US dollars.", ("provider", "model"),
                            registry=r)
        self.quality = Histogram("glassbox_quality_score", "Quality scores of runs.", ("workflow",),
                                 buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0), registry=r)
        self.budget = Counter("glassbox_budget_events_total", "Budget warnings and halts.", ("event",), registry=r)
        self.spans_received = Counter("glassbox_ingest_spans_received_total", "Spans accepted by the OTLP receiver.",
                                      registry=r)
        self.spans_rejected = Counter("glassbox_ingest_spans_rejected_total",
                                      "Spans refused one by one (invalid ids, another project's trace).",
                                      ("reason",), registry=r)  # fmt: skip
        self.requests_rejected = Counter("glassbox_ingest_requests_rejected_total",
                                         "Export requests refused whole (malformed, too large, overloaded).",
                                         ("reason",), registry=r)  # fmt: skip
        self.traces_written = Counter("glassbox_ingest_traces_written_total", "Traces (segments) stored by the writer.",
                                      registry=r)
        self.spans_written = Counter("glassbox_ingest_spans_written_total", "Spans stored by the writer.", registry=r)
        self.store_errors = Counter("glassbox_store_write_errors_total", "Failed store writes (transient: retried).",
                                    registry=r)
        # Gauges of one process: "livesum"/"max" keep them meaningful under PROMETHEUS_MULTIPROC_DIR.
        self.queue_depth = Gauge("glassbox_ingest_queue_depth", "Traces waiting for the writer.", registry=r,
                                 multiprocess_mode="livesum")
        self.writer_lag = Gauge("glassbox_writer_lag_seconds", "Wait of the oldest queued trace.",
                                registry=r, multiprocess_mode="livemax")

    def observe(self, traces: Iterable[Trace]) -> None:
        """Feed stored runs into the metrics (writer thread: never the request or app path).

        Values are grouped by label set first: a ``labels()`` lookup costs more than an observation.
        """
        stages: dict[tuple[str, str, str], list[float]] = {}
        tokens: dict[tuple[str, str, str], int] = {}
        cost: dict[tuple[str, str], float] = {}
        for t in traces:
            wf = t.workflow or ""  # never the run's name: it is often the user's question (unbounded labels)
            release = t.release or ""
            root_id = t.root_span_id
            if root_id is not None and t.status in ("complete", "failed"):
                self.traces.labels(wf, t.status).inc()
                if t.end_ns is not None:
                    self.trace_seconds.labels(wf).observe((t.end_ns - t.start_ns) / 1e9)
                q = t.quality_score
                if q is not None:
                    self.quality.labels(wf).observe(q)
            for s in t.spans:
                if s.span_id != root_id and s.end_ns is not None:
                    key = (wf, s.name, release)
                    seconds = (s.end_ns - s.start_ns) / 1e9
                    got = stages.get(key)
                    if got is None:
                        stages[key] = [seconds]
                    else:
                        got.append(seconds)
                if s.tokens_in is not None or s.tokens_out is not None or s.cost_usd is not None:
                    attrs: dict[str, Any] = s.attributes or {}
                    provider = str(attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system") or "")
                    model = s.model or ""
                    if s.tokens_in:
                        tokens[(provider, model, "input")] = tokens.get((provider, model, "input"), 0) + s.tokens_in
                    if s.tokens_out:
                        tokens[(provider, model, "output")] = tokens.get((provider, model, "output"), 0) + s.tokens_out
                    if s.cost_usd:
                        cost[(provider, model)] = cost.get((provider, model), 0.0) + s.cost_usd
            for e in t.events:
                if e.name in ("budget.warned", "budget.exceeded"):
                    self.budget.labels(e.name.split(".")[1]).inc()
        for key, values in stages.items():
            child = self.stage_seconds.labels(*key)
            for v in values:
                child.observe(v)
        for key, n in tokens.items():
            self.tokens.labels(*key).inc(n)
        for key, usd in cost.items():
            self.cost.labels(*key).inc(usd)


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
    is expected and quiet. Calling it again with the same address serves nothing new.
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
