"""Feedback in the query API (summary, group_by), weekly trends, and the retraining dataset."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import glassbox as gb
from glassbox.analysis.feedback import dataset_rows, feedback_trend
from glassbox.analysis.query import Query
from glassbox.cli.app import app
from glassbox.errors import QueryError
from glassbox.store.store import Store


@pytest.fixture
def rated(store_url, tmp_path):
    """Four runs over two releases, rated on different scales, with signals and comments."""
    gb.configure(store=store_url, trail_dir=None, flush_interval=0.05)
    ids = {}
    for name, release in (("a", "v1"), ("b", "v1"), ("c", "v2"), ("d", "v2")):
        with gb.trace(f"question {name}", workflow="recommend", release=release) as t:
            t.output = f"answer {name}"
        ids[name] = t.trace_id
    gb.flush()
    gb.feedback(ids["a"], 5, scale=(1, 5))  # 1.0 positive
    gb.feedback(ids["a"], signal="share")  # positive
    gb.feedback(ids["b"], False, scale="thumbs")  # 0.0 negative
    gb.feedback(ids["c"], 0.5)  # 0.5 neutral
    gb.feedback(ids["c"], signal="re_query")  # negative
    gb.feedback(ids["d"], comment="Terrible suggestion, I hate this")  # negative, no rating
    gb.flush()
    st = Store(store_url)
    yield st, ids
    st.close()


def test_summary_and_group_by_carry_feedback_metrics(rated):
    st, _ = rated
    q = Query(st)
    s = q.summary()
    assert s["feedback"] == 6 and s["avg_rating"] == pytest.approx((1.0 + 0.0 + 0.5) / 3)
    assert s["positive_share"] == pytest.approx(2 / 6)
    groups = {g["release"]: g for g in q.group_by("release", ["runs", "avg_rating", "positive_share", "feedback"])}
    assert groups["v1"] == {
        "release": "v1",
        "runs": 2,
        "avg_rating": 0.5,
        "positive_share": pytest.approx(2 / 3),
        "feedback": 3,
    }
    assert groups["v2"]["avg_rating"] == 0.5 and groups["v2"]["positive_share"] == 0.0
    assert list(groups["v1"]) == ["release", "runs", "avg_rating", "positive_share", "feedback"]
    assert q.summary(release="v2")["feedback"] == 3
    with pytest.raises(QueryError, match="unknown metric"):
        q.group_by("release", ["avg_ratings"])


def test_weekly_trend_per_release(rated):
    st, _ = rated
    rows = feedback_trend(st, by="release")
    assert {r["release"] for r in rows} == {"v1", "v2"}
    v2 = next(r for r in rows if r["release"] == "v2")
    assert v2["feedback"] == 3 and v2["ratings"] == 1 and v2["signals"] == {"re_query": 1}
    assert v2["negative_share"] == pytest.approx(2 / 3) and v2["week"].count("-W") == 1
    with pytest.raises(QueryError, match="trend by"):
        feedback_trend(st, by="user")


def test_dataset_rows_labels_and_balance(rated):
    st, ids = rated
    rows = {r["trace_id"]: r for r in dataset_rows(st)}
    assert rows[ids["a"]]["label"] == "positive" and rows[ids["a"]]["signals"] == ["share"]
    assert rows[ids["a"]]["input"] == "question a" and rows[ids["a"]]["output"] == "answer a"
    assert rows[ids["b"]]["label"] == "negative" and rows[ids["d"]]["comments"] == ["Terrible suggestion, I hate this"]
    balanced = dataset_rows(st, balance=True)
    labels = sorted(r["label"] for r in balanced)
    assert labels == ["negative", "positive"]  # one positive run (a): one negative of the three kept
    assert [r["trace_id"] for r in dataset_rows(st, label="positive")] == [ids["a"]]


def test_export_dataset_feedback(rated, tmp_path):
    st, ids = rated
    runner = CliRunner()
    r = runner.invoke(app, ["export", "--store", st.url, "--dataset", "feedback", "--release", "v1"])
    assert r.exit_code == 0, r.output
    docs = [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]
    assert {d["trace_id"] for d in docs} == {ids["a"], ids["b"]}
    out = tmp_path / "fb.csv"
    r = runner.invoke(
        app, ["export", "--store", st.url, "--dataset", "feedback", "--format", "csv", "--balance", "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    lines = out.read_text().splitlines()
    assert lines[0].startswith("trace_id,workflow,release,input,output,rating,sentiment,label") and len(lines) == 3
    bad = runner.invoke(app, ["export", "--store", st.url, "--balance"])
    assert bad.exit_code == 2 and "--dataset feedback" in bad.output
