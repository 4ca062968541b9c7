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
    own = (
        sa.select(
            s.trace_id,
            sa.func.sum(s.tokens_in).label("ti"),
            sa.func.sum(s.tokens_out).label("to"),
            sa.func.sum(s.cost_usd).label("c"),
        )
        .group_by(s.trace_id)
        .subquery()
    )
    t = traces_table.c
    q = sa.select(t.trace_id, t.tokens_in, t.tokens_out, t.cost_usd, own.c.ti, own.c.to, own.c.c).join(
        own, own.c.trace_id == t.trace_id, isouter=True
    )
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
@given(
    runs=st.lists(
        st.lists(call, min_size=1, max_size=6).flatmap(
            lambda cs: st.tuples(st.just(cs), st.lists(st.integers(0, 3), min_size=len(cs) - 1, max_size=len(cs) - 1))
        ),
        min_size=1,
        max_size=4,
    ),
    seed=st.integers(0, 2**32 - 1),
)
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
                    c.set_attributes(
                        {
                            "gen_ai.operation.name": "chat",
                            "gen_ai.provider.name": "openai",
                            "gen_ai.request.model": "gpt-4o-mini",
                            "gen_ai.usage.input_tokens": 1000 * (i + 1) + j,
                            "gen_ai.usage.output_tokens": 100 + j,
                        }
                    )
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


# -- item 3: the merged run is the same whatever order its segments arrive in -------------------------------------
def _foreign_root_and_glassbox_continuation():
    """A Node-style OTel root (as the receiver decodes it) and a glassbox service continuing it via gb.extract."""
    mem = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "web-node"}))
    provider.add_span_processor(SimpleSpanProcessor(mem))
    from opentelemetry import propagate
    from opentelemetry import trace as otel_trace

    with provider.get_tracer("node").start_as_current_span("GET /ask") as root:
        headers: dict[str, str] = {}
        propagate.inject(headers, context=otel_trace.set_span_in_context(root))
    provider.shutdown()
    (node,) = otlp.decode(
        otlp.parse(encode_spans(mem.get_finished_spans()).SerializeToString(), "application/x-protobuf"), project="p"
    ).traces
    with capture(project="p", service="answers") as got:
        with (
            gb.extract(headers),
            gb.trace({"question": "why?"}, workflow="qa", intent="explain"),
            gb.stage("llm", kind="llm") as s,
        ):
            s.tokens_in, s.cost_usd = 40, 0.004
    return node, got[0]


def _run_row(store, trace_id) -> dict:
    with store.engine.connect() as conn:
        row = dict(conn.execute(sa.select(traces_table).where(traces_table.c.trace_id == trace_id)).one()._mapping)
    row.pop("trace_id")
    return row


def test_a_service_continuing_a_foreign_root_keeps_workflow_and_input_in_either_order(store_url):
    from glassbox.store.store import Store

    runs = []
    for order in ((0, 1), (1, 0)):
        store = Store(store_url)
        node, ours = _foreign_root_and_glassbox_continuation()
        for i in order:
            store.write_traces([(node, ours)[i]])
        merged = store.get_trace(node.trace_id)
        assert merged.workflow == "qa" and merged.intent == "explain" and merged.input == {"question": "why?"}
        assert merged.name == "GET /ask" and merged.root_span_id == node.root_span_id
        row = _run_row(store, node.trace_id)
        assert row["tokens_in"] == 40 and row["service"] == "web-node"
        runs.append(
            {
                k: v
                for k, v in row.items()
                if k not in ("start_ns", "end_ns", "started_at", "ended_at", "duration_ms", "root_span_id", "name")
            }
        )
        with store.engine.begin() as conn:
            for table in reversed(traces_table.metadata.sorted_tables):
                conn.execute(table.delete())
        store.close()
    assert runs[0] == runs[1]


word = st.sampled_from(["a", "b", "c"])
maybe = st.none() | word


@st.composite
def trace_segments(draw):
    """A primary (maybe) and 1-3 other segments of one trace, each setting a random subset of the run's fields."""
    has_primary = draw(st.booleans())
    n_other = draw(st.integers(1 if has_primary else 2, 3))
    starts = draw(st.lists(st.integers(0, 50), min_size=n_other + 1, max_size=n_other + 1, unique=True))
    segs = []
    for i in range(n_other + 1):
        primary = i == 0 and has_primary
        if i == 0 and not has_primary:
            continue
        seg = {
            "primary": primary,
            "start": starts[i] * 1000,
            "root": draw(st.booleans()) or primary,
            "fields": {f: draw(maybe) for f in ("workflow", "intent", "service", "user_id", "experiment")},
            "input": draw(st.none() | st.dictionaries(word, word, max_size=2)),
            "name": draw(word),
            "status": draw(st.sampled_from(["complete", "failed", "incomplete"])),
            "tags": draw(st.lists(word, max_size=2)),
            "cost_source": draw(st.sampled_from([None, "unknown", "estimated", "priced", "provider"])),
            "calls": draw(st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99)), min_size=1, max_size=2)),
        }
        segs.append(seg)
    return segs


def _build(tid: str, segs: list[dict]) -> list[Trace]:
    """Trace segments from their description, with span ids derived from positions (same for every order)."""
    primary_root = "a" * 16
    out = []
    for i, d in enumerate(segs):
        t = Trace(tid, d["name"], d["start"])
        t.project, t.status, t.tags = "p", d["status"], list(d["tags"])
        t.cost_source, t.input = d["cost_source"], d["input"]
        for k, v in d["fields"].items():
            setattr(t, k, v)
        root = primary_root if d["primary"] else f"{i + 1:016x}"
        if d["root"]:
            t.root_span_id = root
            t.parent_span_id = None if d["primary"] else primary_root
        for j, (tin, cost) in enumerate(d["calls"]):
            sid = root if j == 0 else f"{i + 1:08x}{j:08x}"
            parent = None if (j == 0 and d["primary"]) else (primary_root if j == 0 else root)
            s = Span(tid, sid, parent, f"{d['name']}{j}", "llm", d["start"] + j)
            s.end_ns, s.status, s.tokens_in, s.cost_usd = d["start"] + 500, "ok", tin, cost / 1e4
            t.spans.append(s)
        t.end_ns = d["start"] + 500
        out.append(t)
    return out


def _merged(store, segs: list[dict], order: list[int]) -> tuple[dict, dict]:
    tid = new_trace_id()
    built = _build(tid, segs)
    for i in order:
        store.write_traces([built[i]])
    doc = store.get_trace(tid).to_dict()
    doc.pop("trace_id")
    doc["spans"] = sorted(doc["spans"], key=lambda s: s["span_id"])
    return _run_row(store, tid), doc


@HYPOTHESIS
@given(segs=trace_segments(), data=st.data())
def test_the_merged_run_is_the_same_in_any_segment_order(store, segs, data):
    n = len(segs)
    orders = [list(range(n)), list(reversed(range(n)))]
    orders += [data.draw(st.permutations(range(n))) for _ in range(2)]
    first_row, first_doc = _merged(store, segs, orders[0])
    for order in orders[1:]:
        row, doc = _merged(store, segs, order)
        assert row == first_row, order
        assert doc == first_doc, order
    # The primary's fields win wherever it has them; otherwise some segment's value is kept.
    primary = next((d for d in segs if d["primary"]), None)
    for f in ("workflow", "intent", "service", "user_id", "experiment"):
        values = {d["fields"][f] for d in segs} - {None}
        if primary is not None and primary["fields"][f] is not None:
            assert first_row[f] == primary["fields"][f]
        else:
            assert first_row[f] == (min(values) if values else None)
    if primary is not None:
        assert (first_row["name"], first_row["status"]) == (primary["name"], primary["status"])
    assert first_row["tokens_in"] == sum(c[0] for d in segs for c in d["calls"])


def test_the_merge_ranks_cost_sources_as_the_cost_layer_does():
    from glassbox.cost import record
    from glassbox.store.merge import COST_TRUST

    assert record._TRUST == COST_TRUST


def test_migration_0005_repairs_totals_the_uncorrelated_merge_corrupted(store):
    from glassbox.store import database

    runs = [seg for i in range(3) for seg in _segments(new_trace_id(), [(10 * (i + 1), 1, 0.01)] * 2, [0])]
    store.write_traces(runs)
    with store.engine.begin() as conn:  # what the bug left behind: the whole store's sums on every run
        conn.execute(traces_table.update().values(tokens_in=120, tokens_out=6, cost_usd=0.06))
    assert database.downgrade(store.engine, "0004") == "0004"
    assert database.upgrade(store.engine) == database.HEAD_REVISION
    assert_own_totals(store)
    assert sorted(v[0][0] for v in totals_by_trace(store).values()) == [20, 40, 60]
