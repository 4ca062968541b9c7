"""The hot path: stages, nesting, decisions, evidence, scores, attributes, errors."""

from __future__ import annotations

import asyncio
import json

import pytest

import glassbox as gb
from glassbox.testing import capture


def _by_name(trace):
    return {s.name: s for s in trace.spans}


def test_quickstart_records_stage_tree_decision_evidence_and_score():
    with capture(project="support-bot") as traces:
        with gb.trace(
            "What is our refund policy?",
            workflow="search_qa",
            intent="lookup",
            domain="billing",
            user_id="u1",
            session_id="s1",
            tags=["prod"],
            metadata={"release": "2026.11"},
        ) as t:
            with gb.stage("retrieval", kind="retrieval") as s:
                gb.decision(
                    "use bm25",
                    why="short keyword query",
                    confidence=0.8,
                    alternatives={"dense": 0.6, "hybrid": 0.7},
                    inputs={"query_len": 5},
                )
                gb.evidence("retrieved", {"collected": 20, "passed": 8})
                s.set(top_k=8)
            gb.score("quality", 0.82, passed=True, dimensions={"completeness": 0.9, "clarity": 0.7})
            t.output = "Refunds are accepted within 30 days."
    (tr,) = traces
    assert tr.trace_id == t.trace_id and len(tr.trace_id) == 32
    assert (tr.project, tr.workflow, tr.intent, tr.domain) == ("support-bot", "search_qa", "lookup", "billing")
    assert (tr.user_id, tr.session_id, tr.tags, tr.release) == ("u1", "s1", ["prod"], "2026.11")
    assert tr.status == "complete" and tr.output == "Refunds are accepted within 30 days."
    spans = _by_name(tr)
    root, retrieval = spans["search_qa"], spans["retrieval"]
    assert root.parent_id is None and retrieval.parent_id == root.span_id
    assert retrieval.kind == "retrieval" and retrieval.status == "ok" and retrieval.attributes == {"top_k": 8}
    assert retrieval.start_ns >= root.start_ns and retrieval.end_ns <= root.end_ns
    (d,) = tr.decisions
    assert (d.what, d.why, d.confidence, d.span_id, d.stage) == (
        "use bm25",
        "short keyword query",
        0.8,
        retrieval.span_id,
        "retrieval",
    )
    assert d.alternatives == [("dense", 0.6), ("hybrid", 0.7)] and d.inputs == {"query_len": 5}
    (e,) = tr.events
    assert e.name == "retrieved" and e.payload == {"collected": 20, "passed": 8} and e.span_id == retrieval.span_id
    (sc,) = [s for s in tr.scores if s.source != "heuristic"]  # the writer adds heuristic signals
    assert sc.span_id is None and sc.value == 0.82 and sc.passed is True
    assert sc.dimensions == {"completeness": 0.9, "clarity": 0.7}
    assert tr.quality_score == 0.82 and tr.gate_passed is True


def test_calls_outside_a_trace_do_nothing_and_return_noops():
    with capture() as traces:
        assert gb.decision("x") is None
        assert gb.evidence("e", {"a": 1}) is None
        assert gb.score("q", 1.0) is None
        with gb.stage("orphan") as s:
            s.set(a=1)
        assert not gb.current_trace() and not gb.current_stage()
        gb.current_trace().output = "ignored"  # library code may record without checking
        gb.current_stage().decision("nothing")
    assert list(traces) == []


def test_current_trace_and_stage_inside_a_trace():
    with capture() as traces, gb.trace("q", workflow="w") as t:
        assert gb.current_trace() is t
        with gb.stage("inner") as s:
            assert gb.current_stage() is s
            assert gb.current_trace() is t
            gb.current_trace().output = "answer"
    assert traces[0].output == "answer"


def test_nested_trace_becomes_a_child_stage():
    with capture() as traces:
        with gb.trace("outer q", workflow="outer") as outer, gb.trace("inner q", workflow="inner") as inner:
            assert inner.trace_id == outer.trace_id
            inner.output = "inner answer"
    (tr,) = traces
    spans = _by_name(tr)
    assert spans["inner"].parent_id == spans["outer"].span_id
    assert spans["inner"].input == "inner q" and spans["inner"].output == "inner answer"
    assert spans["inner"].attributes["workflow"] == "inner"


def test_exception_marks_stage_and_trace_failed_and_is_reraised_unchanged():
    boom = ValueError("index offline")
    with capture() as traces:
        with pytest.raises(ValueError) as caught, gb.trace("q", workflow="w"), gb.stage("retrieval"):
            raise boom
    assert caught.value is boom
    (tr,) = traces
    assert tr.status == "failed"
    stage = _by_name(tr)["retrieval"]
    assert stage.status == "error"
    assert stage.error["type"] == "ValueError" and stage.error["message"] == "index offline"
    assert "raise boom" in stage.error["stack"]
    assert tr.error["stage"] == "retrieval" and tr.error["type"] == "ValueError"


def test_caught_stage_error_keeps_trace_complete_but_stage_failed():
    with capture() as traces:
        with gb.trace("q", workflow="w"):
            try:
                with gb.stage("flaky"):
                    raise TimeoutError("slow")
            except TimeoutError:
                pass
            with gb.stage("fallback"):
                pass
    (tr,) = traces
    assert _by_name(tr)["flaky"].status == "error"
    assert tr.status == "complete" and tr.error["stage"] == "flaky"


class Unserialisable:
    def __repr__(self) -> str:
        return "<Unserialisable>"

    __str__ = __repr__


def test_attributes_otel_cannot_carry_are_json_encoded_never_dropped():
    with capture(max_attribute_length=50) as traces:
        with gb.trace("q"), gb.stage("s") as s:
            s.set(
                n=1,
                f=2.5,
                b=True,
                text="ok",
                tags=["a", "b"],
                mixed=[1, "a"],
                d={"k": [1, 2]},
                obj=Unserialisable(),
                none=None,
                long="x" * 200,
            )
    attrs = _by_name(traces[0])["s"].attributes
    assert attrs["n"] == 1 and attrs["f"] == 2.5 and attrs["b"] is True and attrs["text"] == "ok"
    assert attrs["tags"] == ["a", "b"]
    assert json.loads(attrs["mixed"]) == [1, "a"]
    assert json.loads(attrs["d"]) == {"k": [1, 2]}
    assert attrs["obj"] == '"<Unserialisable>"'
    assert "none" in attrs
    assert attrs["long"].startswith("x" * 50) and attrs["long"].endswith("[truncated 150 chars]")


def test_huge_input_output_truncated_with_marker():
    with capture(max_text_length=100) as traces, gb.trace("q" * 1000) as t:
        t.output = {"answer": "a" * 500, "obj": Unserialisable()}
    tr = traces[0]
    assert tr.input.endswith("…[truncated 900 chars]") and len(tr.input) < 200
    assert tr.output["answer"].endswith("…[truncated 400 chars]")
    assert tr.output["obj"] == "<Unserialisable>"


def test_decision_alternatives_forms():
    with capture() as traces, gb.trace("q"):
        gb.decision("a", alternatives=[("x", 0.1), ("y", None)])
        gb.decision("b", alternatives=["google", "reddit"])
    d1, d2 = traces[0].decisions
    assert d1.alternatives == [("x", 0.1), ("y", None)]
    assert d2.alternatives == [("google", None), ("reddit", None)]


def test_bad_decision_values_never_raise_into_user_code():
    from glassbox.coerce import COERCE

    before = COERCE.changed
    with capture() as traces, gb.trace("q"):
        d = gb.decision("x", confidence="not a number")  # one bad value costs only itself: coerced, counted
        assert gb.score("q", "NaN?") is None  # not a number: kept as an invalid_score event, not a score
    assert d is not None and traces[0].decisions[0].confidence is None
    assert [s for s in traces[0].scores if s.name == "q"] == []
    assert [e.name for e in traces[0].events] == ["invalid_score"] and COERCE.changed >= before + 2
    assert gb.health()["configured"] is False  # capture restored the previous (none) configuration


def test_concurrent_asyncio_tasks_keep_their_own_traces():
    async def run(i: int) -> str:
        with gb.trace(f"q{i}", workflow="async") as t:
            for j in range(3):
                with gb.stage(f"s{j}"):
                    await asyncio.sleep(0.001 * ((i + j) % 3))
                    gb.decision(f"d{i}")
            return t.trace_id

    async def main() -> list[str]:
        return await asyncio.gather(*(run(i) for i in range(20)))

    with capture() as traces:
        ids = asyncio.run(main())
    assert len(set(ids)) == 20
    traces.flush()
    assert len(traces) == 20
    for tr in traces:
        i = tr.input[1:]
        root = tr.root()
        assert len(tr.spans) == 4
        assert all(s.parent_id == root.span_id for s in tr.spans if s is not root)
        assert {d.what for d in tr.decisions} == {f"d{i}"}


def test_threads_with_context_helpers_nest_under_the_caller():
    with capture() as traces:
        with gb.trace("q", workflow="threads"), gb.stage("fanout") as fan:
            with gb.ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(lambda i: gb.stage(f"worker{i}").__enter__().__exit__(None, None, None), range(4)))

            def work() -> None:
                with gb.stage("wrapped"):
                    gb.decision("from thread")

            import threading

            th = threading.Thread(target=gb.wrap(work))
            th.start()
            th.join()
            plain = threading.Thread(target=work)  # no helper: no trace in that thread, nothing recorded
            plain.start()
            plain.join()
    spans = _by_name(traces[0])
    for i in range(4):
        assert spans[f"worker{i}"].parent_id == fan.span_id
    assert spans["wrapped"].parent_id == fan.span_id
    assert len(traces[0].decisions) == 1


def test_concurrent_threads_no_cross_talk():
    import threading

    ids: dict[int, str] = {}

    def run(i: int) -> None:
        with gb.trace(f"t{i}") as t:
            for _ in range(50):
                with gb.stage("s"):
                    gb.evidence("e", {"i": i})
            ids[i] = t.trace_id

    with capture() as traces:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    traces.flush()
    assert len(traces) == 8
    for tr in traces:
        i = int(tr.input[1:])
        assert tr.trace_id == ids[i]
        assert len(tr.spans) == 51 and {e.payload["i"] for e in tr.events} == {i}


def test_stage_model_load_counter():
    with capture() as traces, gb.trace("q"), gb.stage("load") as s:
        s.model_load()
        s.model_load(2)
    assert _by_name(traces[0])["load"].model_loads == 3


def test_stage_ending_after_its_trace_is_written_as_a_late_segment():
    with capture(stray_timeout=60) as traces:
        with gb.trace("q", workflow="w"):
            late = gb.stage("background")
            late.__enter__()
        late.__exit__(None, None, None)
    traces.flush()
    assert len(traces) == 2
    primary, segment = traces
    assert "background" not in {s.name for s in primary.spans}
    assert segment.trace_id == primary.trace_id and segment.root_span_id is None
    assert [s.name for s in segment.spans] == ["background"]


def test_disabled_makes_every_call_a_noop():
    with capture(enabled=False) as traces:
        with gb.trace("q") as t, gb.stage("s") as s:
            s.set(a=1)
            gb.decision("x")
        assert t is gb.NOOP_TRACE and s is gb.NOOP_STAGE
    assert list(traces) == []


def test_stage_that_never_ends_is_written_after_the_stray_timeout():
    import time

    with capture(stray_timeout=0.1, flush_interval=0.02) as traces:
        with gb.trace("q", workflow="w"):
            gb.stage("hung").__enter__()
        deadline = time.monotonic() + 5
        while len(traces.flush()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(traces) == 2
    hung = traces[1].spans[0]
    assert hung.name == "hung" and hung.end_ns is None
