"""Query API additions: Page as a sequence, each failure listed, GPU/model-load/signal group metrics, and one
quality_trend order on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from runs_builder import NOW, make_run

from glassbox.analysis.query import Query
from glassbox.errors import QueryError
from glassbox.model import Score
from glassbox.quality_signals import heuristic_signals


def _run(i, **kw):
    peaks = kw.pop("peaks", ())
    loads = kw.pop("loads", ())
    signals = kw.pop("signals", True)
    t = make_run(i, **kw)
    for s, p, n in zip(t.spans[1:], peaks, loads, strict=False):
        s.peak_gpu_mem_bytes, s.model_loads = p, n
    if signals:
        t.scores += [
            Score(f"{i:08x}sig{j:05x}"[:16], name, v, 1.0, None, "heuristic", at_ns=t.start_ns)
            for j, (name, v) in enumerate(heuristic_signals(t).items())
        ]
    return t


@pytest.fixture
def q(store):
    runs = [
        _run(
            1,
            ago=timedelta(hours=5),
            workflow="qa",
            stages=[("web_search", 40, "ok"), ("llm", 50, "ok")],
            peaks=(1_000, 8_000),
            loads=(0, 1),
            output="see [1] and [2]",
        ),
        _run(
            2,
            ago=timedelta(hours=4),
            workflow="qa",
            stages=[("fetch", 40, "ok"), ("llm", 50, "ok")],
            peaks=(None, 2_000),
            loads=(None, 2),
            output="no sources",
        ),
        _run(
            3,
            ago=timedelta(hours=3),
            workflow="summarize",
            status="failed",
            stages=[("chunk", 10, "ok"), ("llm", 30, "error")],
            output=None,
        ),
        _run(4, ago=timedelta(hours=2), workflow="summarize", stages=[("chunk", 10, "error"), ("llm", 30, "ok")]),
    ]
    store.write_traces(runs)
    return Query(store)


def test_a_page_is_iterable_and_sized(q):
    page = q.traces(limit=3)
    assert len(page) == 3
    assert [run["trace_id"] for run in page] == [r["trace_id"] for r in page.items]
    assert len(q.traces(workflow="nope")) == 0 and list(q.traces(workflow="nope")) == []


def test_failures_lists_each_failed_stage_with_its_error_run_and_time(q):
    got = q.failures()
    assert [(f["stage"], f["trace_id"][-1]) for f in got] == [("chunk", "4"), ("llm", "3")]  # newest first
    first = got[0]
    assert first["error_type"] == "Timeout" and first["error_message"] == "took too long"
    assert first["workflow"] == "summarize" and first["at"].startswith("2026-11-24T10:00")
    assert first["span_id"] and first["kind"] == "stage"
    assert q.failures(workflow="qa") == []
    assert len(q.failures(limit=1)) == 1
    # failed_stages aggregates the same failures per stage
    assert {r["stage"]: r["failures"] for r in q.failed_stages()} == {"chunk": 1, "llm": 1}


def test_group_by_aggregates_gpu_memory_model_loads_and_quality_signals(q):
    rows = {
        r["workflow"]: r
        for r in q.group_by(
            "workflow",
            [
                "runs",
                "max_gpu_mem_bytes",
                "avg_gpu_mem_bytes",
                "model_loads",
                "avg_has_search",
                "avg_citation_count",
                "avg_failure_occurred",
            ],
        )
    }
    qa, summ = rows["qa"], rows["summarize"]
    assert qa["max_gpu_mem_bytes"] == 8_000 and qa["avg_gpu_mem_bytes"] == pytest.approx(5_000)
    assert qa["model_loads"] == 3
    assert qa["avg_has_search"] == pytest.approx(0.5)  # "web_search" counts, "fetch" (a stage) does not
    assert qa["avg_citation_count"] == pytest.approx(1.0)
    assert summ["max_gpu_mem_bytes"] is None and summ["model_loads"] is None
    assert summ["avg_failure_occurred"] == pytest.approx(1.0)
    with pytest.raises(QueryError, match="unknown metric 'avg_vibes'"):
        q.group_by("workflow", ["avg_vibes"])


def test_quality_trend_orders_groups_the_same_on_every_backend(store):
    runs = []
    for i, (wf, q_) in enumerate([("beta", 0.5), ("Alpha", 0.6), (None, 0.7), ("alpha", 0.8), ("beta", 0.9)], 1):
        t = make_run(i, ago=timedelta(hours=1), workflow=wf or "x", quality=q_, now=NOW.replace(hour=23))
        t.workflow = wf
        runs.append(t)
    store.write_traces(runs)
    from datetime import datetime

    days = (datetime.now() - NOW.replace(hour=23)).days + 2
    rows = Query(store).quality_trend(days=days, by="workflow")
    assert [r["workflow"] for r in rows] == ["Alpha", "alpha", "beta", None]
    assert [r["runs"] for r in rows] == [1, 1, 2, 1]
