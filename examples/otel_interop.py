"""An app with its own OpenTelemetry TracerProvider: its spans nest under glassbox stages and
are folded into the glassbox trace; glassbox never replaces the provider."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import glassbox as gb

exporter = InMemorySpanExporter()  # the app's own exporter keeps working as before
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("my-app")

gb.configure(project="otel-example")
with gb.trace("question", workflow="qa") as t:
    with gb.stage("retrieval", kind="retrieval"):
        with tracer.start_as_current_span("vector-db.query") as span:  # e.g. an instrumented client
            span.set_attribute("db.system", "qdrant")
gb.flush()

folded = next(s for s in t.spans if s.name == "vector-db.query")
retrieval = next(s for s in t.spans if s.name == "retrieval")
assert folded.parent_id == retrieval.span_id
assert trace.get_tracer_provider() is provider
print(f"trace {t.trace_id}: app span {folded.name!r} nested under {retrieval.name!r}")
print(f"the app's exporter still got {len(exporter.get_finished_spans())} span(s)")
