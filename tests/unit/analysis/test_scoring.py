"""Heuristic signals and user scorers: computed in the writer, stored with the trace, never raised."""

from __future__ import annotations

import asyncio
import threading

import pytest

import glassbox as gb
from glassbox.model import Score
from glassbox.scoring import heuristic_signals, unregister
from glassbox.store.store import Store


@pytest.fixture(autouse=True)
def _clean_registry():
    yield
    for name in ("faith", "gate", "dims", "full", "nothing", "broken", "async_judge", "where"):
        unregister(name)


def _trace(output, spans=(("retrieval", "retrieval", "ok"),), status="complete") -> gb.Trace:
    t = gb.Trace("a" * 32, "t")
    t.output, t.status, t.root_span_id = output, status, "r" * 16
    for i, (name, kind, st) in enumerate(spans):
        s = gb.Span(t.trace_id, f"{i:016x}", None, name, kind)
        s.status = st
        t.spans.append(s)
    return t


def test_heuristic_signals_on_known_answers():
    cited = "Refunds take 30 days [1]. See [the policy](https://example.com/refunds) and [2], or https://x.io/a."
    s = heuristic_signals(_trace(cited))
    assert s["citation_count"] == 4 and s["has_citations"] == 1.0
    assert s["answer_length"] == len(cited) and s["has_search"] == 1.0 and s["failure_occurred"] == 0.0
    plan = "# Lesson\n\n## Warm-up\n- read\n- discuss\n- write\n"
    s = heuristic_signals(_trace(plan, spans=(("outline", "llm", "ok"),)))
    assert s["has_structure"] == 1.0 and s["has_search"] == 0.0 and s["citation_count"] == 0
    s = heuristic_signals(_trace({"answer": "short"}, spans=(("web_search", "tool", "error"),), status="failed"))
    assert s["answer_length"] == 5 and s["has_search"] == 1.0 and s["failure_occurred"] == 1.0
    assert heuristic_signals(_trace(None))["answer_length"] == 0


def test_writer_stores_signals_without_changing_the_quality_score(configured):
    with gb.trace("q") as plain:
        plain.output = "no sources here"
    with gb.trace("q") as judged:
        gb.score("quality", 0.7, passed=True)
        judged.output = "see [1]"
    gb.flush()
    st = Store(configured)
    a, b = st.get_trace(plain.trace_id), st.get_trace(judged.trace_id)
    assert {s.name for s in a.scores if s.source == "heuristic"} == {
        "citation_count", "answer_length", "has_search", "has_citations", "has_structure", "failure_occurred"}
    assert a.quality_score is None  # signals describe a run; they are not its quality
    assert b.quality_score == 0.7
    assert next(s.value for s in b.scores if s.name == "citation_count") == 1.0


def test_heuristics_can_be_turned_off(configured, tmp_path):
    gb.configure(store=configured, trail_dir=None, heuristics=False)
    with gb.trace("q") as t:
        t.output = "x"
    gb.flush()
    assert Store(configured).get_trace(t.trace_id).scores == []


def test_user_scorers_of_every_shape_run_in_the_writer(configured):
    threads: list[str] = []

    @gb.scorer("faith")
    def faith(trace):
        threads.append(threading.current_thread().name)
        return 0.75

    @gb.scorer("gate")
    def gate(trace):
        return "refund" in str(trace.output)

    @gb.scorer("dims")
    def dims(trace):
        return {"completeness": 0.5, "clarity": 1.0}

    @gb.scorer("full")
    def full(trace):
        return Score("", "full", 3.0, max=5.0, passed=True, source="llm_judge", comment="ok")

    @gb.scorer("nothing")
    def nothing(trace):
        return None

    @gb.scorer("async_judge")
    async def judge(trace):
        await asyncio.sleep(0.01)
        return 0.9

    with gb.trace("q") as t:
        t.output = "refunds within 30 days"
    gb.flush()
    got = {s.name: s for s in Store(configured).get_trace(t.trace_id).scores if s.source != "heuristic"}
    assert threads == ["glassbox-writer"]  # never on the app's thread
    assert got["faith"].value == 0.75 and got["faith"].source == "rule"
    assert (got["gate"].value, got["gate"].passed) == (1.0, True)
    assert got["dims"].dimensions == {"completeness": 0.5, "clarity": 1.0} and got["dims"].value == 0.75
    assert (got["full"].value, got["full"].max, got["full"].source, got["full"].comment) == (3.0, 5.0, "llm_judge",
                                                                                             "ok")  # fmt: skip
    assert got["async_judge"].value == 0.9
    assert "nothing" not in got


def test_a_failing_scorer_is_recorded_and_the_trace_is_kept(configured, caplog):
    @gb.scorer("broken")
    def broken(trace):
        raise ValueError("judge model unavailable")

    @gb.scorer("where")
    def where(trace):
        return "not a score"

    with gb.trace("q") as t:
        t.output = "x"
    gb.flush()
    got = {s.name: s for s in Store(configured).get_trace(t.trace_id).scores}
    assert got["broken"].passed is False and "ValueError: judge model unavailable" in got["broken"].comment
    assert got["where"].passed is False and "expected a number" in got["where"].comment
    assert any("scorer 'broken' failed" in r.getMessage() for r in caplog.records)
