"""Release gates on stored populations with known shifts and known sameness; parsing; verdict rules."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from glassbox.evaluation.gate import (
    DEFAULT_SPECS,
    GateError,
    MetricSpec,
    judge,
    list_verdicts,
    parse_population,
    parse_tolerance,
    population_from_values,
    run_gate,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from populations import population


@pytest.fixture
def releases(store):
    store.write_traces(population("2026.11", 400, seed=1))
    store.write_traces(population("2026.12-same", 400, seed=2))
    store.write_traces(population("2026.12-slow", 400, seed=3, latency=300.0, error_rate=0.08, quality=0.7))
    store.write_traces(population("tiny", 10, seed=4))
    return store


def test_same_populations_pass(releases):
    v = run_gate(releases, "release=2026.11", "release=2026.12-same")
    assert v.verdict == "pass", v.reasons
    assert {m.classification for m in v.metrics} == {"Pass"}
    assert v.n_baseline == 400 and v.n_candidate == 400


def test_a_worse_release_fails_with_reasons_and_figures(releases):
    v = run_gate(releases, "release=2026.11", "release=2026.12-slow")
    assert v.verdict == "fail"
    by = {m.name: m for m in v.metrics}
    assert by["error_rate"].classification == "High" and by["error_rate"].failed
    assert by["latency"].classification == "High" and by["latency"].method == "mann_whitney_u+hodges_lehmann"
    assert 0.3 < by["latency"].relative_change < 0.7  # a 50 % shift
    assert by["latency"].ci_low > 0
    assert by["quality"].classification == "Low" and by["quality"].failed
    assert by["cost"].classification == "Pass"
    assert any(r.startswith("error_rate rose") for r in v.reasons)
    stored = list_verdicts(releases, kind="gate")
    assert stored[0]["verdict"] == "fail" and stored[0]["candidate"] == {"release": "2026.12-slow"}


def test_too_few_runs_is_not_enough_data_never_a_pass(releases):
    v = run_gate(releases, "release=2026.11", "release=tiny")
    assert v.verdict == "not_enough_data"
    assert any("not enough data" in r for r in v.reasons)
    empty = run_gate(releases, "release=2026.11", "release=nothing-here")
    assert empty.verdict == "not_enough_data"


def test_explicit_thresholds_only_judge_those_metrics(releases):
    specs = [MetricSpec("latency_p95", parse_tolerance("+100%"))]
    v = run_gate(releases, "release=2026.11", "release=2026.12-slow", specs)
    assert [m.name for m in v.metrics] == ["latency_p95"]
    assert v.verdict == "pass"  # +50 % is within +100 %
    strict = run_gate(
        releases, "release=2026.11", "release=2026.12-slow", [MetricSpec("latency_p95", parse_tolerance("+20%"))]
    )
    assert strict.verdict == "fail" and strict.metrics[0].method == "quantile_ci"


@pytest.mark.parametrize(
    ("text", "value", "relative"),
    [
        ("+1pp", 0.01, False),
        ("1pp", 0.01, False),
        ("+20%", 0.2, True),
        ("-0.05", -0.05, False),
        ("+150ms", 150.0, False),
        ("+0.5s", 500.0, False),
        ("+.25", 0.25, False),
    ],
)
def test_tolerances_parse(text, value, relative):
    t = parse_tolerance(text)
    assert t.value == pytest.approx(value) and t.relative is relative and str(t) == text


@pytest.mark.parametrize("bad", ["", "abc", "+1 pp pp", "++1", "20%%", "1e3"])
def test_bad_tolerances_are_clear_errors(bad):
    with pytest.raises(GateError, match=r"--max-p95: expected a change like \+1pp"):
        parse_tolerance(bad, "--max-p95")


def test_populations_parse():
    assert parse_population("release=2026.12") == {"release": "2026.12"}
    assert parse_population("v2") == {"release": "v2"}
    assert parse_population("variant=b, experiment=ranker,tag=eu,tag=beta") == {
        "variant": "b",
        "experiment": "ranker",
        "tag": ["eu", "beta"],
    }
    assert parse_population("model_version=m3,since=2h") == {"release": "m3", "since": "2h"}
    with pytest.raises(GateError, match="unknown selector 'colour'"):
        parse_population("colour=red")
    with pytest.raises(GateError, match="is not key=value"):
        parse_population("release=a,b")
    with pytest.raises(GateError, match="needs a value"):
        parse_population("release=")


def test_a_bad_time_window_is_a_gate_error(releases):
    with pytest.raises(GateError, match="since"):
        run_gate(releases, "since=yesterday-ish", "release=2026.12-same")


def test_weighted_score_and_marginal():
    rng = np.random.default_rng(5)
    a = population_from_values(durations=rng.normal(100, 5, 500), costs=rng.normal(1.0, 0.05, 500), finished=500)
    b = population_from_values(durations=rng.normal(100, 5, 500), costs=rng.normal(1.5, 0.05, 500), finished=500)
    specs = [
        MetricSpec("latency", parse_tolerance("+10%"), critical=False, weight=3),
        MetricSpec("cost", parse_tolerance("+10%"), critical=False, weight=1),
    ]
    v = judge(a, b, specs, pass_score=95, marginal_score=70)
    assert v.score == pytest.approx(75.0) and v.verdict == "marginal"
    assert judge(a, b, specs, pass_score=95, marginal_score=80).verdict == "fail"
    critical = [MetricSpec("latency", parse_tolerance("+10%"), weight=3), MetricSpec("cost", parse_tolerance("+10%"))]
    assert judge(a, b, critical).verdict == "fail"


def test_improvements_never_fail():
    rng = np.random.default_rng(6)
    a = population_from_values(
        durations=rng.normal(200, 10, 300), failed=30, finished=300, quality=rng.normal(0.6, 0.05, 300)
    )
    b = population_from_values(
        durations=rng.normal(120, 10, 300), failed=3, finished=300, quality=rng.normal(0.9, 0.05, 300)
    )
    v = judge(a, b, [s for s in DEFAULT_SPECS if s.name != "cost"])
    assert v.verdict == "pass"
    by = {m.name: m.classification for m in v.metrics}
    assert by["latency"] == "Low" and by["error_rate"] == "Low" and by["quality"] == "High"


def test_a_population_holds_each_finished_run_once_and_only_the_values_it_has(store):
    from glassbox.evaluation.gate import load_population

    runs = population("r1", 60, seed=9, error_rate=0.3)
    for t in runs[:6]:  # no quality score, no priced call
        t.scores, t.spans = [], t.spans[:1]
    runs[6].status, runs[7].status = "in_progress", "incomplete"  # not finished: not counted
    store.write_traces(runs)
    pop = load_population(store, {"release": "r1"})
    finished = [t for t in runs if t.status in ("complete", "failed")]
    assert (pop.finished, pop.failed) == (58, sum(t.status == "failed" for t in runs))
    assert sorted(pop.durations) == sorted(t.duration_ms for t in finished)
    assert sorted(pop.costs) == sorted(t.cost_usd for t in finished if t.cost_usd is not None)
    assert sorted(pop.quality) == sorted(t.quality_score for t in finished if t.quality_score is not None)
    assert len(pop.costs) == len(pop.quality) == 52
    empty = load_population(store, {"release": "r2"})
    assert (empty.finished, empty.failed, empty.durations.size, empty.quality.size) == (0, 0, 0, 0)
