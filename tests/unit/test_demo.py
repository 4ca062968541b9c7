"""The seeded demo pipeline: real SDK traces in the store and trail, deterministic per seed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import glassbox as gb
from glassbox.demo import PROJECT, WORKFLOWS, run_demo
from glassbox.model import Trace
from glassbox.store.store import Store
from glassbox.store.trail import read_trail, trail_files


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/demo/glassbox.db"


def _stored(url: str) -> list[Trace]:
    st = Store(url)
    try:
        return [st.get_trace(s["trace_id"]) for s in st.list_traces(limit=1000)]
    finally:
        st.close()


def _shape(t: Trace) -> tuple:
    """Everything seeded about a trace: no ids, no clock readings."""
    return (
        t.workflow,
        t.intent,
        t.domain,
        t.input,
        t.output,
        t.status,
        t.user_id,
        (t.error or {}).get("type"),
        [(s.name, s.kind, s.model, s.tokens_in, s.tokens_out, s.cost_usd) for s in t.spans],
        [(d.stage, d.what, d.why, d.confidence, d.alternatives, d.inputs) for d in t.decisions],
        [(e.name, e.payload) for e in t.events],
        [(s.name, s.value, s.passed, s.dimensions) for s in t.scores],
    )


def test_demo_records_traces_with_decisions_scores_and_a_failure(sqlite_url, tmp_path):
    run = run_demo(6, 3, store=sqlite_url, trail_dir=str(tmp_path / "trail"), pace=0)
    assert len(run.traces) == 6 and run.sink_errors == []
    stored = _stored(sqlite_url)
    assert {t.trace_id for t in stored} == {t.trace_id for t in run.traces}
    assert all(t.project == PROJECT for t in stored)
    assert {t.workflow for t in stored} == set(WORKFLOWS)
    assert len({t.intent for t in stored}) >= 2 and len({t.domain for t in stored}) >= 2

    failed = [t for t in stored if t.status == "failed"]
    assert failed, "the demo shows at least one failing stage"
    for t in failed:
        assert t.error and t.error["type"] in ("RetrievalTimeout", "RateLimited", "OutlineRejected")
        assert any(s.status == "error" for s in t.spans if s.span_id != t.root_span_id)

    complete = [t for t in stored if t.status == "complete"]
    assert complete
    for t in complete:
        assert t.quality_score is not None and t.gate_passed is not None
        (quality,) = [s for s in t.scores if s.name == "quality"]
        assert set(quality.dimensions) == {"relevance", "grounding", "completeness", "clarity"}
        assert t.output

    providers: set[str] = set()
    for t in stored:
        assert t.decisions and all(d.alternatives and d.confidence is not None for d in t.decisions)
        assert any(len(d.alternatives) >= 3 for d in t.decisions)
        llm = [s for s in t.spans if s.kind == "llm" and s.status == "ok"]
        assert llm and all(s.model and s.tokens_in and s.cost_usd for s in llm)  # priced by gb.llm()
        assert all(s.attributes["glassbox.cost.source"] == "priced" for s in llm)
        assert t.cost_usd == pytest.approx(sum(s.cost_usd for s in llm))
        assert t.cost_source == "priced"
        providers.update(s.attributes["gen_ai.provider.name"] for s in llm)
    assert {"openai", "anthropic"} <= providers  # real SDK response types from several providers
    assert any(t.events for t in stored)


def test_demo_writes_the_same_traces_to_the_trail(sqlite_url, tmp_path):
    run = run_demo(4, 1, store=sqlite_url, trail_dir=str(tmp_path / "trail"), pace=0)
    lines = [t for f in trail_files([tmp_path / "trail"]) for _, t in read_trail(f)]
    assert sorted(t.trace_id for t in lines) == sorted(t.trace_id for t in run.traces)
    by_id = {t.trace_id: t for t in _stored(sqlite_url)}
    later = ("alerts", "flagged_for_review")  # calibration judges a run after it is written: store only
    for t in lines:
        stored = {k: v for k, v in by_id[t.trace_id].to_dict().items() if k not in later}
        assert stored == {k: v for k, v in t.to_dict().items() if k not in later}


def test_demo_runs_span_two_weeks_and_the_new_release_regresses(sqlite_url, tmp_path):
    import time

    from glassbox.demo import NEW_RELEASE, REGRESSED_WORKFLOW, RELEASE, SPAN_DAYS

    run = run_demo(36, 7, store=sqlite_url, trail_dir=None, pace=0)
    stored = _stored(sqlite_url)
    days = {time.strftime("%Y-%m-%d", time.gmtime(t.start_ns / 1e9)) for t in stored}
    assert len(days) >= 10  # the overview's daily charts have days to show
    oldest = min(t.start_ns for t in stored)
    assert (time.time_ns() - oldest) / 86_400e9 == pytest.approx(SPAN_DAYS, abs=0.2)
    assert all(s.start_ns >= t.start_ns and s.end_ns <= t.end_ns + 1 for t in stored for s in t.spans)

    def quality(release: str) -> float:
        qs = [
            t.quality_score
            for t in stored
            if t.release == release and t.workflow == REGRESSED_WORKFLOW and t.quality_score is not None
        ]
        return sum(qs) / len(qs)

    assert quality(NEW_RELEASE) < quality(RELEASE) - 0.1  # the regression a gate and the rules catch
    assert any(f.rule == "quality_gate_regression" for f in run.flags)


def test_same_seed_same_runs_other_seed_other_runs(tmp_path):
    a = run_demo(5, 42, store=f"sqlite:///{tmp_path}/a.db", trail_dir=str(tmp_path / "ta"), pace=0)
    b = run_demo(5, 42, store=f"sqlite:///{tmp_path}/b.db", trail_dir=str(tmp_path / "tb"), pace=0)
    c = run_demo(5, 43, store=f"sqlite:///{tmp_path}/c.db", trail_dir=str(tmp_path / "tc"), pace=0)
    assert [_shape(t) for t in a.traces] == [_shape(t) for t in b.traces]
    assert [_shape(t) for t in a.traces] != [_shape(t) for t in c.traces]
    assert not {t.trace_id for t in a.traces} & {t.trace_id for t in b.traces}  # fresh ids every time


def test_demo_uses_the_configured_defaults(tmp_path):
    # In a process of its own: the default store URL is relative to the cwd.
    code = (
        "import json; from glassbox.demo import run_demo; run = run_demo(2, 7, pace=0); "
        "print(json.dumps([run.store, run.trail_dir, [t.trace_id for t in run.traces]]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    store, trail, ids = json.loads(proc.stdout)
    assert (store, trail) == ("sqlite:///.glassbox/glassbox.db", ".glassbox/traces")
    assert list((tmp_path / ".glassbox" / "traces").glob("*.jsonl"))
    assert {t.trace_id for t in _stored(f"sqlite:///{tmp_path}/.glassbox/glassbox.db")} == set(ids)


def test_demo_leaves_glassbox_unconfigured(sqlite_url, tmp_path):
    run_demo(1, 7, store=sqlite_url, trail_dir=str(tmp_path / "trail"), pace=0)
    assert gb.health()["configured"] is False


def test_demo_follows_glassbox_store_from_the_environment(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/env/store.db"
    monkeypatch.setenv("GLASSBOX_STORE", url)
    monkeypatch.setenv("GLASSBOX_TRAIL_DIR", "off")
    monkeypatch.setenv("GLASSBOX_SAMPLE_RATE", "0")  # the demo records every run regardless
    run = run_demo(3, 7, pace=0)
    assert run.store == url and run.trail_dir is None
    assert len(_stored(url)) == 3
    assert not (tmp_path / ".glassbox").exists()


def test_a_single_run_and_a_long_demo_both_work(tmp_path):
    one = run_demo(1, 7, store=f"sqlite:///{tmp_path}/one.db", trail_dir=str(tmp_path / "t1"), pace=0)
    assert len(one.traces) == 1 and one.traces[0].status == "complete"
    many = run_demo(40, 7, store=f"sqlite:///{tmp_path}/many.db", trail_dir=str(tmp_path / "t2"), pace=0)
    assert 1 <= len(many.failed) <= 12
    assert len(_stored(f"sqlite:///{tmp_path}/many.db")) == 40


def test_demo_raises_calibration_flags_and_prints_them(tmp_path):
    from typer.testing import CliRunner

    from glassbox.cli.app import app

    url = f"sqlite:///{tmp_path}/demo.db"
    out = CliRunner().invoke(app, ["demo", "--store", url, "--trail-dir", str(tmp_path / "trail")])
    assert out.exit_code == 0, out.output
    assert "[CALIBRATION] Principle" in out.stdout and "glassbox alerts" in out.stdout
    from glassbox.store.alerts import list_alerts

    flags = list_alerts(Store(url), source="calibration")
    assert flags and any(f.rule == "repeated_principle_failure" for f in flags)
    assert out.stdout.count("[CALIBRATION]") == min(len(flags), 5)


def test_demo_drift_section_shows_one_drifted_field_and_the_feedback_trend(tmp_path):
    from rich.console import Console

    from glassbox.monitoring.drift import history
    from glassbox.monitoring.drift_demo import PROJECT, section

    url = f"sqlite:///{tmp_path}/demo.db"
    console = Console(record=True, width=120)
    section(None, console, url)
    text = console.export_text()
    assert "confidence    DRIFT (critical)" in text and text.count("no drift") == 2
    assert "Feedback  per week" in text and text.count("-W") >= 3
    st = Store(url)
    assert {h["field"] for h in history(st, project=PROJECT) if h["drifted"]} == {"confidence"}
    assert gb.query(st).summary(project=PROJECT)["avg_rating"] is not None


def test_demo_evaluation_section_runs_a_regression_a_golden_check_and_a_gate(sqlite_url, tmp_path):
    from rich.console import Console

    from glassbox.evaluation.demo import DATASET, GOLDEN, section
    from glassbox.evaluation.gate import list_verdicts
    from glassbox.evaluation.regress import list_runs

    run_demo(store=sqlite_url, trail_dir=str(tmp_path / "trail"), pace=0)  # the default, seeded runs
    console = Console(record=True, width=200)
    section(None, console, sqlite_url)
    text = console.export_text()
    assert f"regress {DATASET}: 2 passed, 1 failed, 0 errors" in text
    assert f"golden {GOLDEN} vs refund-again: matches" in text
    assert f"golden {GOLDEN} vs shipping: BREACH: missing stages: rerank (stage)" in text
    assert "gate demo-2026.11 -> demo-2026.12: fail (quality Low" in text
    st = Store(sqlite_url)
    assert list_runs(st, project="demo")[0]["failed"] == 1
    assert list_verdicts(st, kind="gate")[0]["verdict"] == "fail"
    st.close()


def test_demo_experiment_section_runs_one_experiment_and_prints_its_analysis(sqlite_url, tmp_path):
    from rich.console import Console

    from glassbox.experiments.demo import EXPERIMENT, RUNS, section
    from glassbox.experiments.registry import get

    run_demo(store=sqlite_url, trail_dir=str(tmp_path / "trail"), pace=0)
    console = Console(record=True, width=200)
    section(None, console, sqlite_url)
    text = console.export_text()
    assert f"Experiment  {EXPERIMENT} (control " in text and "Ship concise (confidence" in text
    assert "metric quality score:" in text and "(better)" in text and "guardrail error rate:" in text
    st = Store(sqlite_url)
    assert get(st, "experiment", EXPERIMENT).definition.control == "control"
    assert gb.query(st).summary(experiment=EXPERIMENT)["runs"] == RUNS
    st.close()


def test_demo_slo_section_shows_a_firing_burn_rate_alert_delivered_to_a_local_webhook(tmp_path):
    from rich.console import Console

    from glassbox.monitoring.demo import PROJECT, section
    from glassbox.store.alerts import list_alerts

    url = f"sqlite:///{tmp_path}/demo.db"
    console = Console(record=True, width=200)
    section(None, console, url)
    text = console.export_text()
    assert "checkout_availability: " in text and "objective 99.5%" in text
    assert "burn-rate alert firing: page 1h/5m > 14.4x" in text
    assert "delivered to webhook http://127.0.0.1:" in text and "CRITICAL slo/checkout_availability:page" in text
    (page,) = list_alerts(Store(url), source="slo", rule="checkout_availability:page")
    assert page.project == PROJECT and page.state == "firing"
