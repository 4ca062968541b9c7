"""Experiment analysis over stored runs: known effects found, none invented, SRM blocks, guardrails block."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest

from glassbox.analysis.query import Query
from glassbox.experiments.analysis import analyze
from glassbox.experiments.metrics import load_runs, metric, values


def _by(result, name, guard=False):
    pool = result.guardrails if guard else result.results
    return next(r for r in pool if r.metric == name)


def test_known_quality_effect_ships_and_equals_scipy(store, seeded) -> None:
    seeded(store, quality=(0.70, 0.76), n=600)
    res = analyze(store, "prompt")
    q = _by(res, "avg_quality")
    runs = load_runs(Query(store), "prompt")
    a = values([r for r in runs if r.variant == "control"], metric("avg_quality"))
    b = values([r for r in runs if r.variant == "concise"], metric("avg_quality"))
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert q.test["statistic"] == pytest.approx(ref.statistic, abs=1e-9)
    assert q.test["p_value"] == pytest.approx(ref.pvalue, abs=1e-12)
    assert q.test["estimate"] == pytest.approx(np.mean(b) - np.mean(a), abs=1e-12)
    assert q.direction == "better" and q.significant
    assert res.verdict["decision"] == "ship" and res.verdict["winner"] == "concise"
    assert res.verdict["confidence"] > 0.99
    assert not res.srm["alarm"]
    s = _by(res, "success_rate")
    ok_a = sum(r.status == "complete" for r in runs if r.variant == "control")
    ok_b = sum(r.status == "complete" for r in runs if r.variant == "concise")
    n_a = sum(r.variant == "control" for r in runs)
    z, p = proportions_ztest([ok_b, ok_a], [len(runs) - n_a, n_a])
    assert s.test["statistic"] == pytest.approx(z, abs=1e-9) and s.test["p_value"] == pytest.approx(p, abs=1e-12)


def test_no_effect_is_inconclusive(store, seeded) -> None:
    seeded(store, n=400, seed=2)
    res = analyze(store, "prompt")
    assert res.verdict["decision"] == "inconclusive"
    assert all(r.adjusted_p >= r.test["p_value"] for r in res.results if r.test)  # Holm only raises p-values
    assert res.power["metric"] == "success_rate" and 0 < res.power["power"] < 1


def test_srm_blocks_the_verdict(store, seeded) -> None:
    seeded(store, quality=(0.6, 0.8), n=600, split=0.62, seed=3)  # configured 50/50, observed ~62/38
    res = analyze(store, "prompt")
    assert res.srm["alarm"] and res.srm["p_value"] < 0.001
    assert res.verdict["decision"] == "invalid" and "sample ratio mismatch" in res.verdict["reasons"][0]


def test_guardrail_blocks_a_win(store, seeded) -> None:
    seeded(store, quality=(0.6, 0.75), cost=(0.01, 0.02), n=600, seed=4)
    from glassbox.experiments import registry

    registry.save(
        store,
        "experiment",
        {"name": "prompt", "variants": ["control", "concise"], "metrics": ["avg_quality", "success_rate"]},
    )  # cost only as a guardrail
    res = analyze(store, "prompt")
    assert _by(res, "avg_cost_usd", guard=True).direction == "worse"
    assert res.verdict["decision"] == "blocked" and res.verdict["blocked"] == ["concise"]


def test_ratio_metric_and_sequential(store, seeded) -> None:
    seeded(store, quality=(0.7, 0.8), cost=(0.02, 0.01), n=800, seed=5)
    from glassbox.experiments import registry

    registry.save(
        store,
        "experiment",
        {"name": "prompt", "variants": ["control", "concise"], "metrics": ["quality_per_dollar", "cost_per_success"]},
    )
    fixed = analyze(store, "prompt")
    qpd = _by(fixed, "quality_per_dollar")
    assert qpd.direction == "better" and qpd.relative["estimate"] > 0.5
    seq = analyze(store, "prompt", sequential=True)
    s = _by(seq, "quality_per_dollar")
    assert s.test["ci_low"] < qpd.test["ci_low"] and s.test["ci_high"] > qpd.test["ci_high"]
    assert seq.settings["sequential"] is True


def test_undefined_experiment_with_no_runs_is_not_found(store) -> None:
    from glassbox.errors import NotFound

    with pytest.raises(NotFound, match="nothing to compare"):
        analyze(store, "ghost")


def test_cuped_narrows_the_interval_with_a_pre_period(store) -> None:
    from datetime import timedelta

    from runs_builder import make_run

    from glassbox.experiments import registry

    registry.save(
        store, "experiment", {"name": "cup", "variants": ["control", "b"], "metrics": ["avg_quality"], "guardrails": []}
    )
    rng = np.random.default_rng(9)
    batch = []
    for i in range(400):
        level = rng.uniform(0.2, 0.8)  # each unit's own quality level, seen before and during the experiment
        b = i % 2
        pre = make_run(
            900_000 + i, ago=timedelta(days=3), quality=float(level + rng.normal(0, 0.03)), project="default"
        )
        pre.user_id = f"u{i}"
        run = make_run(
            800_000 + i,
            ago=timedelta(minutes=400 - i),
            quality=float(level + 0.02 * b + rng.normal(0, 0.03)),
            project="default",
        )
        run.experiment, run.variant, run.user_id = "cup", ("control", "b")[b], f"u{i}"
        batch += [pre, run]
    store.write_traces(batch)
    plain = _by(analyze(store, "cup"), "avg_quality")
    adjusted = _by(analyze(store, "cup", cuped=True), "avg_quality")
    assert adjusted.test["method"] == "cuped_welch_t" and adjusted.test["extra"]["variance_reduction"] > 0.8
    width = lambda r: r.test["ci_high"] - r.test["ci_low"]  # noqa: E731
    assert width(adjusted) < 0.5 * width(plain)
    assert adjusted.test["ci_low"] < 0.02 < adjusted.test["ci_high"] and adjusted.significant
