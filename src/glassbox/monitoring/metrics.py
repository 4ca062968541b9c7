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
        self.spans_rejected = Counter("glassbox_ingest_spans_rejected_total", "Spans refused, by reason.",
                                      ("reason",), registry=r)
        # Gauges of one process: "livesum"/"max" keep them meaningful under PROMETHEUS_MULTIPROC_DIR.
        self.queue_depth = Gauge("glassbox_ingest_queue_depth", "Traces waiting for the writer.", registry=r,
                                 multiprocess_mode="livesum")
        self.writer_lag = Gauge("glassbox_writer_lag_seconds", "Age of the oldest batch when it was written.",
                                registry=r, multiprocess_mode="max")

    def observe(self, traces: Iterable[Trace]) -> None:
        """Feed stored runs into the metrics (writer thread: never the request or app path)."""
        for t in traces:
            wf = t.workflow or t.name or ""
            release = t.release or ""
            if t.root_span_id is not None and t.status in ("complete", "failed"):
                self.traces.labels(wf, t.status).inc()
                if t.duration_ms is not None:
                    self.trace_seconds.labels(wf).observe(t.duration_ms / 1000)
                q = t.quality_score
                if q is not None:
                    self.quality.labels(wf).observe(q)
            for s in t.spans:
                if s.span_id != t.root_span_id and s.duration_ms is not None:
                    self.stage_seconds.labels(wf, s.name, release).observe(s.duration_ms / 1000)
                if s.tokens_in is not None or s.cost_usd is not None:
                    attrs: dict[str, Any] = s.attributes or {}
                    provider = str(attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system") or "")
                    model = s.model or ""
                    if s.tokens_in:
                        self.tokens.labels(provider, model, "input").inc(s.tokens_in)
                    if s.tokens_out:
                        self.tokens.labels(provider, model, "output").inc(s.tokens_out)
                    if s.cost_usd:
                        self.cost.labels(provider, model).inc(s.cost_usd)
            for e in t.events:
                if e.name in ("budget.warned", "budget.exceeded"):
                    self.budget.labels(e.name.split(".")[1]).inc()


def exposition_registry(metrics: Metrics) -> CollectorRegistry:
    """The registry to serve: every process's values under PROMETHEUS_MULTIPROC_DIR, else this one's."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return metrics.registry


def start_metrics_server(rt: Any, port: int = 9189, addr: str = "127.0.0.1") -> Metrics:
    """Serve the app's own metrics on ``addr:port`` (``gb.start_metrics_server``); runs fed by its writer."""
    from prometheus_client import start_http_server

    metrics = getattr(rt, "metrics", None)
    if metrics is None:
        metrics = rt.metrics = Metrics()
    start_http_server(port, addr=addr, registry=exposition_registry(metrics))
    return metrics
