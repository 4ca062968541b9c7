"""Drift checks over stored runs: fields, segments, severity bands, not-enough-data, the time series, alerts."""

from __future__ import annotations

import pytest
from drift_seed import seed

from glassbox.errors import QueryError
from glassbox.monitoring import drift
from glassbox.stats.drift import DriftScore, drift_test
from glassbox.store.alerts import list_alerts
from glassbox.store.store import Store


@pytest.fixture
def store(store_url):
    st = Store(store_url)
    yield st
    st.close()


def test_a_shifted_confidence_drifts_and_the_rest_does_not(store):
    seed(store, shift=0.15, release_cur="v2")
    report = drift.check(store, ["confidence", "quality_score", "workflow"], by="release")
    got = {(r.field, r.segment): r for r in report.results}
    conf = got[("confidence", None)]
    assert conf.drifted and conf.method == "ks" and conf.severity == "critical"
    assert conf.n_reference == 200 and conf.n_current == 80
    assert conf.details["current_mean"] < conf.details["reference_mean"] - 0.1
    assert not got[("quality_score", None)].drifted and got[("quality_score", None)].status == "ok"
    assert got[("workflow", None)].status == "ok" and got[("workflow", None)].method == "z"  # one category
    # per release: v2 exists only in the current window, so it has no reference of its own
    assert got[("confidence", "v2")].status == "not_enough_data" and not got[("confidence", "v2")].drifted
    # ... unless its reference is the pinned release v1
    pinned = drift.check(store, ["confidence"], by="release", reference_release="v1", save=False, alert=False)
    assert [(r.segment, r.drifted) for r in pinned.results] == [(None, True), ("v2", True)]


def test_the_stored_value_equals_the_statistic_on_the_same_values(store):
    seed(store, shift=0.05, seed=3)
    report = drift.check(store, ["confidence"], save=False, alert=False)
    ref = drift.field_values(store, "confidence", **drift.windows()[1])[None]
    cur = drift.field_values(store, "confidence", **drift.windows()[0])[None]
    expected = drift_test(ref, cur)
    assert report.results[0].score == pytest.approx(expected.score, abs=1e-12)


def test_small_samples_are_not_enough_data_and_never_alert(store):
    seed(store, n_ref=20, n_cur=10, shift=0.5)
    report = drift.check(store, ["confidence"])
    r = report.results[0]
    assert (r.status, r.severity, r.drifted, r.score) == ("not_enough_data", "none", False, None)
    assert list_alerts(store, source="drift") == []
    assert drift.check(store, ["confidence"], min_samples=5, save=False, alert=False).results[0].drifted


def test_drift_fires_an_alert_and_results_form_a_time_series(store):
    seed(store, shift=0.2)
    first = drift.check(store, ["confidence", "quality_score"])
    second = drift.check(store, ["confidence", "quality_score"])
    alerts = list_alerts(store, source="drift")
    assert len(alerts) >= 1 and all(a.rule == "confidence" for a in alerts)
    assert alerts[0].severity == "critical" and "confidence" in alerts[0].message
    hist = drift.history(store, field="confidence")
    assert [h["check_id"] for h in hist] == [second.check_id, first.check_id]
    s = drift.summary(store)
    assert s["drifted"] == 1 and s["worst_severity"] == "critical" and s["fields"] == 2
    assert s["by_severity"]["critical"] == 1


def test_pinned_baseline(store):
    seed(store, shift=0.2)
    counts = drift.pin_baseline(store, "launch", ["confidence"], since="8d", until="2d")
    assert counts == {"confidence": 200}
    report = drift.check(store, ["confidence"], baseline="launch", save=False, alert=False)
    assert report.results[0].drifted and report.reference == {"baseline": "launch"}
    with pytest.raises(drift.BaselineNotFound):
        drift.check(store, ["quality_score"], baseline="launch")


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (DriftScore("wasserstein", 0.05, 0.1, False, 2000, 500, False), "none"),
        (DriftScore("wasserstein", 0.1, 0.1, True, 2000, 500, False), "low"),
        (DriftScore("wasserstein", 0.2, 0.1, True, 2000, 500, False), "medium"),
        (DriftScore("jensenshannon", 0.35, 0.1, True, 2000, 500, True), "high"),
        (DriftScore("psi", 0.5, 0.1, True, 2000, 500, False), "critical"),
        (DriftScore("ks", 0.04, 0.05, True, 200, 80, False), "low"),
        (DriftScore("ks", 0.01, 0.05, True, 200, 80, False), "medium"),
        (DriftScore("chisquare", 0.001, 0.05, True, 200, 80, True), "high"),
        (DriftScore("z", 1e-6, 0.05, True, 200, 80, True), "critical"),
    ],
)
def test_severity_bands(score, expected):
    assert drift.severity_of(score) == expected


def test_bad_input_is_a_query_error(store):
    with pytest.raises(QueryError, match="drift field"):
        drift.check(store, ["nope"])
    with pytest.raises(QueryError, match="drift by"):
        drift.check(store, ["confidence"], by="user")
    with pytest.raises(QueryError, match="current"):
        drift.check(store, ["confidence"], current="yesterday")
    seed(store, n_ref=40, n_cur=40)
    with pytest.raises(QueryError, match="needs numbers"):
        drift.check(store, ["workflow"], method="ks")


def test_a_category_the_reference_never_had_is_critical_and_json_safe():
    import json
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # `glassbox drift check` printed scipy's "divide by zero" here
        r = drift.compare("workflow", ["a"] * 40 + ["b"] * 40, ["a"] * 30 + ["c"] * 30, categorical=True)
    assert (r.method, r.score, r.drifted, r.severity) == ("chisquare", 0.0, True, "critical")
    json.dumps(r.as_dict(), allow_nan=False)  # no inf/NaN reaches the store or an HTTP answer
