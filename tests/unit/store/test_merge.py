"""Merging a trace written in several segments: totals are that trace's own, and any arrival order gives one run.

Segments come from re-imports of the trail, from two services writing one trace, and from OTLP spans of one
trace split over several requests; every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import glassbox as gb
from glassbox.ids import new_span_id, new_trace_id
from glassbox.model import Span, Trace
from glassbox.server import otlp
from glassbox.store.importer import import_trails
from glassbox.store.schema import spans as spans_table
from glassbox.store.schema import traces as traces_table
from glassbox.testing import capture

HYPOTHESIS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def totals_by_trace(store) -> dict[str, tuple]:
    """Each stored run's (tokens_in, tokens_out, cost_usd) next to the sums over its own spans."""
    s = spans_table.c
    own = (sa.select(s.trace_id, sa.func.sum(s.tokens_in).label("ti"), sa.func.sum(s.tokens_out).label("to"),
                     sa.func.sum(s.cost_usd).label("c")).group_by(s.trace_id).subquery())  # fmt: skip
    t = traces_table.c
    q = sa.select(t.trace_id, t.tokens_in, t.tokens_out, t.cost_usd, own.c.ti, own.c.to, own.c.c).join(
        own, own.c.trace_id == t.trace_id, isouter=True)
    with store.engine.connect() as conn:
        return {r[0]: (tuple(r[1:4]), tuple(r[4:7])) for r in conn.execute(q).all()}


def assert_own_totals(store) -> None:
    for tid, (stored, own) in totals_by_trace(store).items():
        assert stored[0] == own[0] and stored[1] == own[1], tid
        assert stored[2] == pytest.approx(own[2], rel=1e-12, abs=0) if own[2] is not None else stored[2] is None


def test_importing_the_same_trail_twice_keeps_each_runs_own_totals(store_url, tmp_path):
    gb.configure(project="p", store=None, trail_dir=str(tmp_path / "traces"))
    for i in range(3):
        with gb.trace(f"q{i}"), gb.stage("answer", kind="llm") as s:
            s.model, s.tokens_in, s.tokens_out, s.cost_usd = "gpt-4o-mini", 100 * (i + 1), 10, 0.001 * (i + 1)
    assert gb.flush(10)
    gb.shutdown()
    from glassbox.store.store import Store

    store = Store(store_url)
    try:
        import_trails(store, [tmp_path / "traces"])
        import_trails(store, [tmp_path / "traces"])
        got = sorted(v[0] for v in totals_by_trace(store).values())
        assert [g[:2] for g in got] == [(100, 10), (200, 10), (300, 10)]
        assert [g[2] for g in got] == pytest.approx([0.001, 0.002, 0.003], rel=1e-12)
    finally:
        store.close()


def _segments(tid: str, costs: list[tuple[int, int, float]], split: list[int]) -> list[Trace]:
    """One trace's spans (the first is the root) spread over segments; segment 0 holds the root (primary)."""
    root_id = new_span_id()
    by_seg: dict[int, Trace] = {}
    for i, ((tin, tout, cost), seg) in enumerate(zip(costs, [0, *split], strict=False)):
        t = by_seg.get(seg)
        if t is None:
            t = by_seg[seg] = Trace(tid, "run", 1_000_000_000 + seg)
            t.project, t.status = "p", "complete" if seg == 0 else "incomplete"
            t.root_span_id = root_id if seg == 0 else None
        sid = root_id if i == 0 else new_span_id()
        s = Span(tid, sid, None if i == 0 else root_id, f"s{i}", "llm", 1_000_000_000 + i)
        s.end_ns, s.status = 2_000_000_000 + i, "ok"
        s.tokens_in, s.tokens_out, s.cost_usd = tin, tout, cost
        t.spans.append(s)
        t.start_ns = min(x.start_ns for x in t.spans)
        t.end_ns = max(x.end_ns for x in t.spans)
    return list(by_seg.values())


call = st.tuples(st.integers(0, 10_000), st.integers(0, 1_000), st.integers(0, 10_000).map(lambda c: c / 1e6))


@HYPOTHESIS
@given(runs=st.lists(st.lists(call, min_size=1, max_size=6).flatmap(
    lambda cs: st.tuples(st.just(cs), st.lists(st.integers(0, 3), min_size=len(cs) - 1, max_size=len(cs) - 1))),
    min_size=1, max_size=4), seed=st.integers(0, 2**32 - 1))  # fmt: skip
def test_every_total_is_the_sum_of_that_traces_own_spans_whatever_the_split(store, runs, seed):
    segments = [seg for costs, split in runs for seg in _segments(new_trace_id(), costs, split)]
    random.Random(seed).shuffle(segments)
    for seg in segments:  # one write per segment: each later one merges into a stored row
        store.write_traces([seg])
    store.write_traces(segments)  # and all again in one batch: a re-import
    assert_own_totals(store)


def test_segments_of_two_services_keep_each_runs_own_totals(store):
    with capture(project="p", service="frontend") as a:
        with gb.trace("q", workflow="front"), gb.stage("call backend") as call:
            headers = gb.inject({})
            call.tokens_in = 5
    with capture(project="p", service="backend") as b:
        with gb.extract(headers), gb.trace("q", workflow="back"), gb.stage("llm", kind="llm") as s:
            s.tokens_in, s.cost_usd = 50, 0.5
    with capture(project="p") as other:
        with gb.trace("unrelated"), gb.stage("llm", kind="llm") as s:
            s.tokens_in, s.cost_usd = 7, 0.07
    store.write_traces([other[0]])
    store.write_traces([b[0]])
    store.write_traces([a[0]])
    assert_own_totals(store)
    row = totals_by_trace(store)[a[0].trace_id][0]
    assert row[0] == 55 and row[2] == pytest.approx(0.5)


def _otel_requests(n_traces: int, per_request: int) -> list:
    mem = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(mem))
    tracer = provider.get_tracer("app")
    for i in range(n_traces):
        with tracer.start_as_current_span(f"POST /checkout {i}"):
            for j in range(3):
                with tracer.start_as_current_span(f"chat {j}") as c:
                    c.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                      "gen_ai.request.model": "gpt-4o-mini",
                                      "gen_ai.usage.input_tokens": 1000 * (i + 1) + j,
                                      "gen_ai.usage.output_tokens": 100 + j})  # fmt: skip
    provider.shutdown()
    finished = list(mem.get_finished_spans())
    return [encode_spans(finished[i : i + per_request]) for i in range(0, len(finished), per_request)]


@pytest.mark.parametrize("per_request", [1, 2, 3])
def test_otlp_spans_of_one_trace_in_separate_requests_keep_own_totals(store, per_request):
    from glassbox.cost.record import make_pricer

    pricer = make_pricer()
    for req in _otel_requests(3, per_request):
        parsed = otlp.parse(req.SerializeToString(), "application/x-protobuf")
        store.write_traces(otlp.decode(parsed, project="p", pricer=pricer).traces)
    assert_own_totals(store)
    ins = sorted(v[0][0] for v in totals_by_trace(store).values())
    assert ins == [3003, 6003, 9003]
