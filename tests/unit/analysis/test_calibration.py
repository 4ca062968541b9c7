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
from glassbox.store.schema import alerts, traces
from glassbox.store.store import Store


def run(
    quality=None,
    dims=None,
    passed=None,
    intent="lookup",
    domain="billing",
    output="ok",
    project=None,
    workflow="qa",
    release=None,
    max=None,
):
    with gb.trace("q", workflow=workflow, intent=intent, domain=domain, project=project, release=release) as t:
        if quality is not None:
            gb.score("quality", quality, max=max, passed=passed, dimensions=dims or {})
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
    from sqlalchemy import select, update

    with st.engine.begin() as conn:  # move that history 10 days back, and forget its flags
        for t in old:
            started = conn.execute(select(traces.c.started_at).where(traces.c.trace_id == t.trace_id)).scalar_one()
            conn.execute(
                update(traces).where(traces.c.trace_id == t.trace_id).values(started_at=started - timedelta(days=10))
            )
        conn.execute(alerts.delete())
    run(0.4, {"grounding": 0.1})
    gb.flush()
    assert flags(configured, "repeated_principle_failure") == []


def test_dimension_disparity(configured):
    gb.configure(store=configured, trail_dir=None, calibration_disparity=0.3, calibration_min_runs=3, heuristics=False)
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


@pytest.mark.parametrize("off", [{"calibration": False}])
def test_a_late_after_step_counts_failures_as_of_its_run(configured, off):
    """The database lane runs ahead of the after steps: when an earlier run's batch is judged, later
    failing runs may already be stored. The alert still goes to the run that made it three."""
    gb.configure(store=configured, trail_dir=None, **off)
    first, second, third = (run(0.5, {"grounding": 0.1}) for _ in range(3))
    gb.flush()
    engine = CalibrationEngine(Store(configured), CalibrationSettings(alerts_file=None))
    assert engine.after_batch([first]) == [] and engine.after_batch([second]) == []
    (alert,) = engine.after_batch([third])
    assert (alert.rule, alert.trace_id) == ("repeated_principle_failure", third.trace_id)


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


def _age_flags(url, days):
    """Move every calibration flag `days` back in time (as if raised then)."""
    from sqlalchemy import select, update

    with Store(url).engine.begin() as conn:
        for id_, at, at_ns in conn.execute(select(alerts.c.id, alerts.c.at, alerts.c.at_ns)).all():
            conn.execute(
                update(alerts)
                .where(alerts.c.id == id_)
                .values(at=at - timedelta(days=days), at_ns=at_ns - int(days * 86_400e9))
            )


def test_a_flag_fires_again_once_its_window_has_passed(configured):
    for _ in range(3):
        run(0.5, {"grounding": 0.2})
    gb.flush()
    assert len(flags(configured, "repeated_principle_failure")) == 1
    _age_flags(configured, 6)
    run(0.5, {"grounding": 0.2})
    gb.flush()
    assert len(flags(configured, "repeated_principle_failure")) == 1  # 6 days ago: still within 7
    _age_flags(configured, 2)
    run(0.5, {"grounding": 0.2})
    gb.flush()
    (again,) = flags(configured, "repeated_principle_failure")  # 8 days ago: it fires again...
    assert again.count == 2 and again.state == "firing"  # ...on the alert still open (one row per dedup key)


def test_principles_of_any_judged_score_and_on_its_own_scale(configured):
    @gb.scorer("rubric", source="llm_judge")
    def rubric(trace):
        return {"clarity": 0.3, "tone": 0.9}

    try:
        for _ in range(3):
            run(2.0, {"evidence": 1.5, "depth": 2.0}, max=3.0)  # 0-3 rubric: threshold 0.6 x 3 = 1.8
        gb.flush()
    finally:
        unregister("rubric")
    found = {f.dims["subject"]: f for f in flags(configured, "repeated_principle_failure")}
    assert set(found) == {"evidence", "rubric.clarity"}  # depth 2.0 >= 1.8; tone 0.9 >= 0.6
    assert found["evidence"].dims["threshold"] == pytest.approx(1.8)
    assert "Principle clarity (rubric) has scored below threshold 0.6 3 times" in found["rubric.clarity"].message


def test_a_calibration_table_in_glassbox_toml_sets_thresholds(store_url, tmp_path):
    (tmp_path / "glassbox.toml").write_text(
        '[calibration]\nmin_failures = 2\nalerts_file = "flags/{project}.md"\n'
        "[calibration.thresholds]\ngrounding = 0.8\n"
    )
    gb.configure(project="toml proj/../x", store=store_url, trail_dir=None)
    for _ in range(2):
        run(0.9, {"grounding": 0.75, "clarity": 0.7})  # 0.75 < 0.8 (its own threshold); clarity 0.7 >= 0.6
    gb.flush()
    (flag,) = flags(store_url, "repeated_principle_failure")
    assert flag.dims["principle"] == "grounding" and flag.dims["threshold"] == 0.8 and flag.dims["failures"] == 2
    written = list((tmp_path / "flags").iterdir())
    assert [p.name for p in written] == ["toml_proj_.._x.md"]  # {project}, made safe for a file name
    assert "**repeated_principle_failure** [warning]" in written[0].read_text()


def test_disparity_default_is_a_sixth_of_the_scale(configured):
    gb.configure(store=configured, trail_dir=None, heuristics=False)
    for _ in range(10):
        run(2.5, intent="lookup", max=3.0)
    for _ in range(5):
        run(1.75, intent="compare", max=3.0)  # overall 2.25: exactly 0.5 (3 / 6) below
    gb.flush()
    (flag,) = flags(configured, "dimension_disparity")
    assert flag.dims["subject"] == "intent=compare" and flag.dims["threshold"] == 0.5


@pytest.mark.parametrize(("low", "fires"), [(0.6, False), (0.55, True)])
def test_disparity_on_zero_to_one_scores(configured, low, fires):
    gb.configure(store=configured, trail_dir=None, heuristics=False)
    for _ in range(6):
        run(0.9, domain="billing")
    for _ in range(5):
        run(low, domain="legal")  # overall 0.76 (gap 0.164) or 0.74 (gap 0.191) vs 1/6 = 0.167
    gb.flush()
    assert [f.dims["subject"] for f in flags(configured, "dimension_disparity")] == (["domain=legal"] if fires else [])


def test_disparity_by_workflow_and_release(configured):
    gb.configure(store=configured, trail_dir=None, calibration_disparity=0.3, calibration_min_runs=3)
    for _ in range(6):
        run(0.9, workflow="search_qa", release="v1")
    for _ in range(3):
        run(0.2, workflow="lesson_plan", release="v2")
    gb.flush()
    got = {f.dims["subject"] for f in flags(configured, "dimension_disparity")}
    assert got == {"workflow=lesson_plan", "release=v2"}
    run(0.1, workflow="lesson_plan", release="v2")
    gb.flush()
    assert len(flags(configured, "dimension_disparity")) == 2  # deduplicated


def test_gate_regression_compares_runs_of_the_same_workflow(configured):
    run(0.9, passed=True, workflow="lesson_plan")
    run(0.2, passed=False, workflow="search_qa")  # lesson_plan passing says nothing about search_qa's gate
    gb.flush()
    assert flags(configured, "quality_gate_regression") == []
    run(0.8, passed=True, workflow="search_qa")
    run(0.4, passed=False, workflow="search_qa")
    run(0.3, passed=False, workflow="search_qa")  # failed after a failure: no new regression
    gb.flush()
    (flag,) = flags(configured, "quality_gate_regression")
    assert flag.dims["subject"] == "search_qa" and "Quality gate failed for search_qa run" in flag.message


def test_gate_regression_by_project_when_asked(configured):
    gb.configure(project="test", store=configured, trail_dir=None, calibration_gate_scope="project")
    run(0.9, passed=True, workflow="lesson_plan")
    bad = run(0.2, passed=False, workflow="search_qa")
    gb.flush()
    (flag,) = flags(configured, "quality_gate_regression")
    assert flag.trace_id == bad.trace_id and "Quality gate failed for project test run" in flag.message


def test_gate_regression_says_when_the_quality_scorer_itself_failed(configured):
    run(0.9, passed=True)
    gb.flush()

    @gb.scorer("quality")
    def quality(trace):
        raise ConnectionError("judge unreachable")

    try:
        run()
        gb.flush()
    finally:
        unregister("quality")
    (flag,) = flags(configured, "quality_gate_regression")
    assert "its quality scorer failed: scorer failed: ConnectionError: judge unreachable" in flag.message


def test_user_rules_subject_severity_window_and_bare_decorator(configured):
    @gb.calibration_rule(severity="critical", window_days=1)
    def long_answers(trace, query):
        if len(str(trace.output)) > 20:
            return {"message": f"run {trace.trace_id[:8]} answered at length", "subject": "length"}
        return []

    @gb.calibration_rule
    def bare_rule(trace, query):
        return ["one", "", None, "two"] if trace.output == "both" else None

    try:
        run(output="x" * 30)
        run(output="y" * 30)  # same subject: one flag
        run(output="both")
        gb.flush()
        (flag,) = flags(configured, "long_answers")
        assert flag.severity == "critical" and flag.dims["subject"] == "length"
        assert sorted(f.message for f in flags(configured, "bare_rule")) == ["one", "two"]
        _age_flags(configured, 1.5)  # past this rule's 1-day window, not the 7-day one
        run(output="z" * 30)
        run(output="both")
        gb.flush()
        (again,) = flags(configured, "long_answers")  # it fired again, on the alert still open
        assert again.count == 2 and len(flags(configured, "bare_rule")) == 2 and again.trace_id != flag.trace_id
    finally:
        unregister("long_answers")
        unregister("bare_rule")


def test_a_failing_rule_or_store_never_reaches_the_app(configured, monkeypatch):
    def explode(self, runs):
        raise RuntimeError("rule bug")

    monkeypatch.setattr(CalibrationEngine, "_principles", explode)
    for _ in range(2):
        run(0.9, passed=True)
    bad = run(0.1, passed=False)
    gb.flush()
    assert [f.trace_id for f in flags(configured, "quality_gate_regression")] == [bad.trace_id]  # the others ran
    assert gb.health()["internal_errors"] >= 1  # counted once per batch it failed in

    def no_alerts(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("glassbox.monitoring.alerts.fire_many", no_alerts)
    with gb.trace("still fine") as t:
        pass
    gb.flush()
    assert Store(configured).get_trace(t.trace_id).status == "complete"
    assert gb.health()["sinks"]["database"]["errors"] == 0


def test_alert_file_lines_are_one_line_each(configured, tmp_path):
    @gb.calibration_rule("multi")
    def multi(trace, query):
        return "first line\nsecond line\n\n- not a list item"

    try:
        run()
        gb.flush()
    finally:
        unregister("multi")
    lines = (tmp_path / ".glassbox" / "calibration_alerts.md").read_text().splitlines()
    assert lines[:2] == ["# Calibration alerts", ""] and len(lines) == 3
    assert "first line second line - not a list item (project test" in lines[2]


def test_flags_are_flagged_for_review_and_visible_on_the_trace(configured):
    for _ in range(3):
        last = run(0.5, {"grounding": 0.1})
    gb.flush()
    t = Store(configured).get_trace(last.trace_id)
    assert t.flagged_for_review is True and [a.rule for a in t.alerts] == ["repeated_principle_failure"]
    with Store(configured).engine.connect() as conn:
        n = conn.execute(traces.select().where(traces.c.flagged_for_review.is_(True))).all()
    assert len(n) == 1  # only the run the flag is about


def test_disparity_on_a_big_window_is_judged_at_most_once_a_minute(configured, monkeypatch):
    from glassbox import runtime
    from glassbox.analysis import calibration

    monkeypatch.setattr(calibration, "DISPARITY_BIG", 6)
    gb.configure(project="test", store=configured, trail_dir=None, calibration_disparity=0.3, calibration_min_runs=3)
    for _ in range(6):
        run(0.9, intent="lookup")
    gb.flush()  # 6 runs: "big" from now on
    for _ in range(3):
        run(0.2, intent="compare")
    gb.flush()
    assert flags(configured, "dimension_disparity") == []  # judged on the next minute, not this batch
    runtime.current().calibration._disparity_next.clear()  # a minute later
    run(0.2, intent="compare")
    gb.flush()
    assert [f.dims["subject"] for f in flags(configured, "dimension_disparity")] == ["intent=compare"]


def test_the_calibration_table_is_checked_and_flat_options_win(tmp_path, monkeypatch):
    from glassbox.config import load_settings
    from glassbox.errors import ConfigError

    (tmp_path / "glassbox.toml").write_text("[calibration]\nenabled = false\nwindow_days = 3\ngate_scope = 'project'\n")
    s = load_settings()
    assert (s.calibration, s.calibration_window_days, s.calibration_gate_scope) == (False, 3.0, "project")
    monkeypatch.setenv("GLASSBOX_CALIBRATION_WINDOW_DAYS", "5")
    assert load_settings().calibration_window_days == 5.0  # the environment's flat option wins
    assert load_settings(calibration_window_days=9).calibration_window_days == 9.0
    (tmp_path / "glassbox.toml").write_text("[calibration]\nwindw_days = 3\n")
    with pytest.raises(ConfigError, match="unknown key 'windw_days' in \\[calibration\\]; known: enabled, "):
        load_settings()
    (tmp_path / "glassbox.toml").write_text("[calibration]\ngate_scope = 'team'\n")
    with pytest.raises(ConfigError, match="calibration_gate_scope"):
        load_settings()
