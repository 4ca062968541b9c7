"""Calibration rules against synthetic histories that must and must not fire; actions and dedup."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

import glassbox as gb
from glassbox.analysis.calibration import CalibrationEngine, CalibrationSettings
from glassbox.scoring import unregister
from glassbox.store.alerts import list_alerts
from glassbox.store.store import Store


def run(quality=None, dims=None, passed=None, intent="lookup", domain="billing", output="ok", project=None):
    with gb.trace("q", workflow="qa", intent=intent, domain=domain, project=project) as t:
        if quality is not None:
            gb.score("quality", quality, passed=passed, dimensions=dims or {})
        t.output = output
    return t


def flags(url, rule=None):
    return list_alerts(Store(url), source="calibration", rule=rule)


def test_repeated_principle_failure_fires_once_with_every_action(configured, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="glassbox")
    run(0.9, {"grounding": 0.9})
    for _ in range(2):
        run(0.5, {"grounding": 0.2, "clarity": 0.9})
    gb.flush()
    assert flags(configured) == []  # two failures: not yet
    third = run(0.5, {"grounding": 0.3})
    gb.flush()
    (flag,) = flags(configured, "repeated_principle_failure")
    assert flag.trace_id == third.trace_id and flag.dims["principle"] == "grounding" and flag.dims["failures"] == 3
    assert "grounding has scored below threshold 0.6 3 times" in flag.message
    assert Store(configured).get_trace(third.trace_id).flagged_for_review is True
    assert any(r.getMessage().startswith("[CALIBRATION] Principle grounding") for r in caplog.records)
    lines = (tmp_path / ".glassbox" / "calibration_alerts.md").read_text().splitlines()
    assert lines[0] == "# Calibration alerts"
    assert "repeated_principle_failure" in lines[-1] and third.trace_id in lines[-1]
    for _ in range(3):
        run(0.5, {"grounding": 0.1})
    gb.flush()
    assert len(flags(configured, "repeated_principle_failure")) == 1  # deduplicated within the window


def test_old_failures_outside_the_window_do_not_count(configured, store_url):
    st = Store(configured)
    old = [run(0.4, {"grounding": 0.1}) for _ in range(3)]
    gb.flush()
    from sqlalchemy import update

    from glassbox.store.schema import alerts, traces

    with st.engine.begin() as conn:  # move that history 10 days back, and forget its flags
        for t in old:
            conn.execute(update(traces).where(traces.c.trace_id == t.trace_id).values(
                started_at=traces.c.started_at - timedelta(days=10)))  # fmt: skip
        conn.execute(alerts.delete())
    run(0.4, {"grounding": 0.1})
    gb.flush()
    assert flags(configured, "repeated_principle_failure") == []


def test_dimension_disparity(configured):
    gb.configure(store=configured, trail_dir=None, calibration_disparity=0.3, calibration_min_runs=3,
                 heuristics=False)  # fmt: skip
    for _ in range(6):
        run(0.9, intent="lookup")
    for _ in range(2):
        run(0.3, intent="compare", domain="legal")
    gb.flush()
    assert flags(configured, "dimension_disparity") == []  # 2 runs: below the minimum
    last = run(0.3, intent="compare", domain="legal")
    gb.flush()
    found = {f.dims["subject"]: f for f in flags(configured, "dimension_disparity")}
    assert set(found) == {"intent=compare", "domain=legal"}
    assert found["intent=compare"].trace_id == last.trace_id
    assert "compare intent runs average 0.30 quality vs 0.70 overall" in found["intent=compare"].message


def test_no_disparity_when_groups_are_close(configured):
    gb.configure(store=configured, trail_dir=None, calibration_disparity=0.3, calibration_min_runs=3)
    for q, intent in [(0.9, "lookup")] * 4 + [(0.8, "compare")] * 4:
        run(q, intent=intent)
    gb.flush()
    assert flags(configured, "dimension_disparity") == []


def test_quality_gate_regression(configured):
    run(0.4, passed=False)  # the first run ever failing: nothing to regress from
    gb.flush()
    assert flags(configured, "quality_gate_regression") == []
    run(0.8, passed=True)
    run(0.9, passed=True)
    gb.flush()
    assert flags(configured, "quality_gate_regression") == []
    bad = run(0.3, passed=False)
    gb.flush()
    (flag,) = flags(configured, "quality_gate_regression")
    assert flag.trace_id == bad.trace_id and flag.severity == "critical"


def test_user_rules_and_a_broken_rule(configured, caplog):
    @gb.calibration_rule("apology")
    def apology(trace, query):
        if "sorry" in str(trace.output).lower():
            return f"run {trace.trace_id[:8]} apologised ({query.summary(project=trace.project)['runs']} runs so far)"
        return None

    @gb.calibration_rule("explodes")
    def explodes(trace, query):
        raise RuntimeError("rule bug")

    try:
        run(output="fine")
        t = run(output="Sorry, I cannot help")
        gb.flush()
        (flag,) = flags(configured, "apology")
        assert flag.trace_id == t.trace_id and "apologised (2 runs so far)" in flag.message
        assert any("calibration rule 'explodes' failed" in r.getMessage() for r in caplog.records)
        assert gb.health()["sinks"]["database"]["errors"] == 0
    finally:
        unregister("apology")
        unregister("explodes")


def test_engine_directly_with_no_runs_and_alerts_file_off(store, tmp_path):
    engine = CalibrationEngine(store, CalibrationSettings(alerts_file=None))
    assert engine.after_batch([]) == []
    assert not Path(".glassbox/calibration_alerts.md").exists()


@pytest.mark.parametrize("off", [{"calibration": False}])
def test_calibration_can_be_turned_off(configured, off):
    gb.configure(store=configured, trail_dir=None, **off)
    for _ in range(4):
        run(0.3, {"grounding": 0.1}, passed=False)
    gb.flush()
    assert flags(configured) == []
