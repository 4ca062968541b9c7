"""Hot path: entering and leaving a stage with three attributes, against baselines in the same process.

Modes (each runs in its own process, see run.py):

* ``plain``: glassbox with no OpenTelemetry provider set; also disabled and sampled out.
* ``bridge``: an OTel SDK TracerProvider is the global provider before the glassbox trace
  starts, so glassbox publishes every stage into the OTel context (its bridge is attached).

Baselines: a bare ``with`` of a slotted class recording two ``time.time_ns()`` stamps, and an
OpenTelemetry SDK span (``start_as_current_span`` + 3 ``set_attribute``) from a real
TracerProvider whose span processor feeds an exporter that discards. Both the
BatchSpanProcessor and the SimpleSpanProcessor are measured; the faster one is the baseline.

Every case is timed as median µs/op over ``repeats`` runs, the cases interleaved per repeat.
Stages are grouped 100 per trace (and OTel spans 100 per parent span): a trace holds its
stages until it ends, as it does in an app. The garbage collector stays on: the work it does
because of the objects a recorder keeps alive is part of what the app pays. That work comes in
bursts (a full collection every ~100 ms here), so each glassbox/bare run is long (100,000 ops
by default) and its median is the amortised cost; OTel spans, 60x dearer, run 1/5 as many ops.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from time import perf_counter_ns, time_ns
from typing import Any

from _common import Results, interleaved, log, median

import glassbox as gb

PER_TRACE = 100


class Bare:
    """The floor: a slotted context manager that records when it was entered and left."""

    __slots__ = ("end_ns", "start_ns")

    def __enter__(self) -> Bare:
        self.start_ns = time_ns()
        return self

    def __exit__(self, *exc: object) -> bool:
        self.end_ns = time_ns()
        return False


def run_bare(n: int) -> float:
    outer = n // PER_TRACE
    t0 = perf_counter_ns()
    for _ in range(outer):
        for _ in range(PER_TRACE):
            with Bare():
                pass
    return (perf_counter_ns() - t0) / (outer * PER_TRACE) / 1000


def run_glassbox(n: int) -> float:
    outer = n // PER_TRACE
    t0 = perf_counter_ns()
    for _ in range(outer):
        with gb.trace("t"):
            for _ in range(PER_TRACE):
                with gb.stage("s") as s:
                    s.set(a=1, b="x", c=2.5)
    return (perf_counter_ns() - t0) / (outer * PER_TRACE) / 1000


def run_traces(n: int) -> float:
    """Whole traces with no stages: what a sampled-out ``gb.trace`` costs by itself."""
    t0 = perf_counter_ns()
    for _ in range(n):
        with gb.trace("t"):
            pass
    return (perf_counter_ns() - t0) / n / 1000


def run_otel(tracer: Any, n: int) -> float:
    outer = n // PER_TRACE
    t0 = perf_counter_ns()
    for _ in range(outer):
        with tracer.start_as_current_span("t"):
            for _ in range(PER_TRACE):
                with tracer.start_as_current_span("s") as span:
                    span.set_attribute("a", 1)
                    span.set_attribute("b", "x")
                    span.set_attribute("c", 2.5)
    return (perf_counter_ns() - t0) / (outer * PER_TRACE) / 1000


def discarding_provider(processor: str = "batch") -> Any:
    """A real OTel SDK TracerProvider whose span processor feeds an exporter that discards."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SimpleSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            return None

    provider = TracerProvider()
    cls = BatchSpanProcessor if processor == "batch" else SimpleSpanProcessor
    provider.add_span_processor(cls(Discard()))
    return provider


def otel_tracers() -> dict[str, Any]:
    """Private (never global) providers, one per span processor type."""
    return {label: discarding_provider(label).get_tracer("bench") for label in ("batch", "simple")}


def configured(n: int, **options: Any) -> Callable[[], float]:
    """A case that (re)configures glassbox untimed, then times the glassbox loop."""

    def case() -> float:
        gb.configure(store=None, trail_dir=None, **options)
        return run_glassbox(n)

    return case


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("plain", "bridge"), default="plain")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--iterations", type=int, default=100_000, help="ops per run of the cheap cases")
    ap.add_argument("--otel-iterations", type=int, default=20_000, help="ops per run of an OTel SDK case")
    args = ap.parse_args()
    n, n_otel, repeats = args.iterations, args.otel_iterations, args.repeats
    res = Results(f"hotpath-{args.mode}")
    log(f"hot path ({args.mode}): {repeats} repeats x {n:,} ops ({n_otel:,} for OTel SDK spans)")

    tracers = otel_tracers()
    cases: dict[str, Callable[[], float]] = {
        "bare": lambda: run_bare(n),
        "otel-batch": lambda: run_otel(tracers["batch"], n_otel),
        "otel-simple": lambda: run_otel(tracers["simple"], n_otel),
    }
    if args.mode == "plain":
        cases["glassbox"] = configured(n)
        cases["disabled"] = configured(n, enabled=False)
        cases["sampled-out"] = configured(n, sample_rate=0.0)
        cases["sampled-out-trace"] = lambda: (
            gb.configure(store=None, trail_dir=None, sample_rate=0.0),
            run_traces(n // 10),
        )[1]
    else:
        from opentelemetry import trace as otel_trace

        # Set before the first glassbox trace starts, so glassbox attaches its bridge to it.
        otel_trace.set_tracer_provider(discarding_provider("batch"))
        gb.configure(store=None, trail_dir=None)
        cases["glassbox+otel"] = lambda: run_glassbox(n)

    for fn in cases.values():  # warm up: first calls, caches, the writer thread
        fn()
    times = interleaved(cases, repeats)
    med = {name: median(v) for name, v in times.items()}
    if args.mode == "bridge":
        health = gb.health()
        if not health.get("otel_bridge"):
            raise SystemExit("glassbox did not attach its OTel bridge: the bridge case measured nothing")
    gb.shutdown()

    bare = med["bare"]
    otel_label = min(("otel-batch", "otel-simple"), key=lambda k: med[k])
    otel = med[otel_label]
    for name, value in med.items():
        res.figure(f"{name} µs/op", value, "µs", f"{value / bare:.2f}x bare")
    if args.mode == "plain":
        g = med["glassbox"]
        res.check("stage vs OTel SDK span (faster)", otel / g, "x", ">= 5x faster", otel / g >= 5.0)
        res.check("stage vs bare with", g / bare, "x", "<= 6x bare", g / bare <= 6.0)
        res.check("disabled vs bare with", med["disabled"] / bare, "x", "<= 2x bare", med["disabled"] / bare <= 2.0)
        res.check(
            "sampled out vs bare with", med["sampled-out"] / bare, "x", "<= 2x bare", med["sampled-out"] / bare <= 2.0
        )
    else:
        g = med["glassbox+otel"]
        res.check("stage (OTel bridge on) vs OTel SDK span", otel / g, "x", ">= 3x faster", otel / g >= 3.0)
    res.note(f"OTel baseline: {otel_label} span processor (the faster of batch/simple)")
    res.emit()


if __name__ == "__main__":
    main()
