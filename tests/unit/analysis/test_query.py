"""The query API on SQLite and PostgreSQL, against histories whose answers are computed by hand."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runs_builder import NOW, make_run

import glassbox as gb
from glassbox.analysis.query import Query, percentile
from glassbox.errors import QueryError, TraceNotFound


@pytest.fixture
def q(store):
    return Query(store)


@pytest.fixture
def history(store, q):
    runs = [
        make_run(
            1,
            ago=timedelta(days=1),
            duration_ms=100,
            quality=0.9,
            passed=True,
            dims={"grounding": 0.9, "clarity": 0.8},
            decisions=[("retrieve", "use bm25", 0.8)],
            tags=["prod"],
            metadata={"release": "a"},
            text="What is the refund window?",
            cost=0.01,
            stages=[("retrieve", 40, "ok"), ("llm", 50, "ok")],
        ),
        make_run(
            2,
            ago=timedelta(hours=20),
            duration_ms=300,
            quality=0.4,
            passed=False,
            dims={"grounding": 0.3, "clarity": 0.7},
            decisions=[("retrieve", "use dense", 0.6)],
            tags=["prod", "beta"],
            metadata={"release": "b"},
            cost=0.03,
            stages=[("retrieve", 200, "ok"), ("llm", 90, "ok")],
        ),
        make_run(
            3,
            ago=timedelta(hours=10),
            duration_ms=500,
            status="failed",
            decisions=[("retrieve", "use dense", 0.5)],
            stages=[("retrieve", 490, "error")],
            intent="compare",
        ),
        make_run(
            4,
            ago=timedelta(hours=5),
            duration_ms=200,
            quality=0.5,
            passed=False,
            domain="legal",
            dims={"grounding": 0.2, "clarity": 0.9},
            decisions=[("retrieve", "use dense", 0.7)],
            stages=[("retrieve", 100, "ok"), ("llm", 95, "ok")],
            cost=0.02,
        ),
        make_run(
            5,
            ago=timedelta(hours=2),
            duration_ms=400,
            workflow="summarize",
            quality=0.8,
            passed=True,
            dims={"grounding": 0.8},
            stages=[("chunk", 100, "ok"), ("llm", 290, "ok")],
            cost=0.05,
            flagged=True,
            output="Summary: refunds <b>ok</b>",
        ),
        make_run(6, ago=timedelta(days=40), duration_ms=1000, quality=0.1, passed=False),  # old
        make_run(7, ago=timedelta(hours=1), project="other", workflow="qa", duration_ms=50),
    ]
    store.write_traces(runs)
    return store


def ids(items):
    return [int(i["trace_id"], 16) for i in items]


def test_summary_counts_rates_and_percentiles(history, q):
    s = q.summary(project="p", since=NOW - timedelta(days=7), until=NOW)
    assert (s["runs"], s["complete"], s["failed"]) == (5, 4, 1)
    assert s["success_rate"] == pytest.approx(4 / 5)
    durations = [100, 300, 500, 200, 400]
    for p in (50, 95, 99):
        assert s[f"p{p}_duration_ms"] == pytest.approx(np.percentile(durations, p))
    assert s["avg_duration_ms"] == pytest.approx(300)
    assert s["total_cost_usd"] == pytest.approx(0.11)
    assert s["avg_quality"] == pytest.approx((0.9 + 0.4 + 0.5 + 0.8) / 4)
    assert s["pass_rate"] == pytest.approx(2 / 4) and s["flagged"] == 1


def test_traces_filters(history, q):
    week = {"project": "p", "since": NOW - timedelta(days=7), "until": NOW}
    assert ids(q.traces(**week).items) == [5, 4, 3, 2, 1]  # newest first
    assert ids(q.traces(**week, workflow="summarize").items) == [5]
    assert ids(q.traces(**week, status="failed").items) == [3]
    assert ids(q.traces(**week, intent="compare").items) == [3]
    assert ids(q.traces(**week, domain="legal").items) == [4]
    assert ids(q.traces(**week, min_score=0.5).items) == [5, 4, 1]
    assert ids(q.traces(**week, max_score=0.45).items) == [2]
    assert ids(q.traces(**week, flagged=True).items) == [5]
    assert ids(q.traces(**week, tag="beta").items) == [2]
    assert ids(q.traces(**week, tag=["prod", "beta"]).items) == [2]
    assert ids(q.traces(**week, metadata={"release": "a"}).items) == [1]
    assert ids(q.traces(**week, metadata="release=b").items) == [2]
    assert ids(q.traces(**week, text="REFUND").items) == [5, 1]  # input or output, any case
    assert ids(q.traces(**week, predicate=lambda r: r["duration_ms"] > 250).items) == [5, 3, 2]
    assert ids(q.traces(project="p").items) == [5, 4, 3, 2, 1, 6]
    assert ids(q.flagged_for_review()) == [5]


def test_bad_filters_are_clear_errors(history, q):
    with pytest.raises(QueryError, match="unknown filter 'colour'"):
        q.traces(colour="red")
    with pytest.raises(QueryError, match="since: expected a date"):
        q.summary(since="last tuesday")
    with pytest.raises(QueryError, match="status: expected one of"):
        q.traces(status="weird")
    with pytest.raises(QueryError, match="min_score: expected a number"):
        q.traces(min_score="high")
    with pytest.raises(QueryError, match="cursor"):
        q.traces(cursor="not-a-cursor")
    with pytest.raises(QueryError, match="group by"):
        q.group_by("colour")
    with pytest.raises(QueryError, match="latency by"):
        q.latency(by="colour")
    with pytest.raises(TraceNotFound):
        q.trace("f" * 32)


def test_sql_metacharacters_are_just_characters(history, q, store):
    for value in ("x' OR '1'='1", "qa; DROP TABLE traces; --", "%", "_", '"', "\\"):
        assert q.traces(workflow=value).items == []
        if value not in ('"', "\\"):  # the text filter reads the JSON form, where quotes and escapes occur
            assert q.traces(text=value).items == []
        assert q.traces(tag=value).items == []
        assert q.traces(metadata={value: value}).items == []
    assert ids(q.traces(text="%").items) == []  # LIKE wildcards are escaped
    assert store.counts()["traces"] == 7


def test_pagination_walks_every_run_once_in_order(history, q):
    seen, cursor = [], None
    while True:
        page = q.traces(project="p", limit=2, cursor=cursor)
        seen += ids(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [5, 4, 3, 2, 1, 6]


def test_compare_deltas_stages_decisions_and_gaps(history, q):
    c = q.compare(f"{1:032x}", f"{2:032x}")
    assert c["quality_delta"] == pytest.approx(0.4 - 0.9)
    assert c["cost_delta"] == pytest.approx(0.02)
    assert c["duration_delta_ms"] == pytest.approx(200)
    retrieve = next(s for s in c["stages"] if s["stage"] == "retrieve")
    assert (retrieve["a_ms"], retrieve["b_ms"], retrieve["delta_ms"]) == (40, 200, 160)
    assert c["decisions_differ"] == [{"stage": "retrieve", "a": ["use bm25"], "b": ["use dense"]}]
    assert c["gaps_a_only"] == [] and c["gaps_b_only"] == ["grounding"]  # 0.3 < 0.6 in run 2 only
    c2 = q.compare(f"{1:032x}", f"{5:032x}")
    assert c2["dimensions_a_only"] == ["clarity"] and c2["dimensions_b_only"] == []
    assert {s["stage"]: s["in"] for s in c2["stages"]} == {"retrieve": "a", "llm": "both", "chunk": "b"}


def test_failed_stages(history, q):
    (row,) = q.failed_stages(project="p")
    assert (row["stage"], row["failures"], row["runs"], row["executions"]) == ("retrieve", 1, 1, 5)
    assert row["errors"] == [{"type": "Timeout", "count": 1, "example_trace_id": f"{3:032x}"}]


def test_latency_percentiles_by_workflow_stage_and_model(history, q):
    week = {"project": "p", "since": NOW - timedelta(days=7), "until": NOW}
    by_wf = {r["workflow"]: r for r in q.latency(**week)}
    assert by_wf["qa"]["count"] == 4
    assert by_wf["qa"]["p50_ms"] == pytest.approx(np.percentile([100, 300, 500, 200], 50))
    assert by_wf["qa"]["p95_ms"] == pytest.approx(np.percentile([100, 300, 500, 200], 95))
    stage = {r["stage"]: r for r in q.latency(by="stage", percentiles=(90,), **week)}
    assert stage["llm"]["p90_ms"] == pytest.approx(np.percentile([50, 90, 95, 290], 90))
    assert [r["model"] for r in q.latency(by="model", **week)] == ["gpt-4o-mini"]
    assert q.latency(**week)[0]["workflow"] == "qa"  # slowest p99 first


def test_group_by_and_quality_trend(history, q):
    rows = {
        r["workflow"]: r
        for r in q.group_by(
            "workflow",
            ["runs", "success_rate", "avg_quality", "total_cost_usd"],
            project="p",
            since=NOW - timedelta(days=7),
        )
    }
    assert rows["qa"]["runs"] == 4 and rows["qa"]["success_rate"] == pytest.approx(3 / 4)
    assert rows["qa"]["avg_quality"] == pytest.approx((0.9 + 0.4 + 0.5) / 3)
    assert rows["summarize"]["total_cost_usd"] == pytest.approx(0.05)
    with pytest.raises(QueryError, match="unknown metric"):
        q.group_by("workflow", ["vibes"])
    trend = q.quality_trend(days=100000, by="workflow", project="p")
    assert sum(r["runs"] for r in trend) == 6
    assert {r["workflow"] for r in trend} == {"qa", "summarize"}


def test_principle_patterns_overall_and_per_domain(history, q):
    p = q.principle_patterns(min_runs=2, project="p")
    overall = {r["principle"]: r for r in p["overall"]}
    # grounding: 0.9, 0.3, 0.2, 0.8 and (run 6) 0 dims -> 2 of 4 below 0.6
    assert (overall["grounding"]["fail_count"], overall["grounding"]["runs"]) == (2, 4)
    assert overall["clarity"]["fail_count"] == 0 and overall["clarity"]["runs"] == 3
    assert p["overall"][0]["principle"] == "grounding"  # fails most
    legal = [r for r in p["by_domain"] if r["domain"] == "legal"]
    assert legal == []  # one run only: below min_runs
    billing = {r["principle"]: r for r in p["by_domain"] if r["domain"] == "billing"}
    assert billing["grounding"]["fail_count"] == 1


def test_decisions_outcome_correlation(history, q):
    rows = {r["what"]: r for r in q.decisions(project="p", since=NOW - timedelta(days=7))}
    dense, bm25 = rows["use dense"], rows["use bm25"]
    assert (dense["runs"], bm25["runs"]) == (3, 1)
    assert dense["failure_rate"] == pytest.approx(1 / 3)  # run 3 failed
    assert dense["failure_rate_without"] == pytest.approx(0 / 2)  # runs 1 and 5
    assert dense["low_quality_rate"] == pytest.approx(2 / 3)  # runs 2 and 4 failed their gate
    assert dense["low_quality_rate_without"] == pytest.approx(0 / 2)
    assert dense["avg_confidence"] == pytest.approx((0.6 + 0.5 + 0.7) / 3)
    assert dense["low_quality_lift"] == pytest.approx(2 / 3)


def test_cost_stats_and_gb_query_facade(history, store_url):
    with gb.query(store_url) as q:
        stats = q.cost_stats(by="workflow", days=100000, project="p")
    assert {g["key"] for g in stats["groups"]} == {"qa", "summarize"}
    with pytest.raises(QueryError, match="by: expected"):
        gb.query(store_url).cost_stats(by="colour")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=50),
    st.floats(min_value=0, max_value=100),
)
def test_percentile_matches_numpy(values, p):
    assert percentile(sorted(values), p) == pytest.approx(float(np.percentile(values, p)), rel=1e-9, abs=1e-6)
