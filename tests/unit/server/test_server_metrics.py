"""Prometheus metrics: names and units, label sets that stay bounded, and prometheus_client multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client import generate_latest

from glassbox.model import Event, Span
from glassbox.monitoring.metrics import Metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
from runs_builder import make_run


def test_runs_stages_tokens_cost_quality_and_budget_events_are_observed():
    m = Metrics()
    run = make_run(1, quality=0.8, stages=[("retrieve", 40, "ok"), ("llm", 60, "ok")], text="What is my refund?")
    llm = next(s for s in run.spans if s.name == "llm")
    llm.model, llm.tokens_in, llm.tokens_out, llm.cost_usd = "gpt-4o-mini", 100, 10, 0.002
    llm.attributes = {"gen_ai.provider.name": "openai"}
    run.events.append(Event("e1", "budget.warned", {}, None, run.start_ns))
    m.observe([run, make_run(2, status="failed", stages=[("fetch", 10, "error")])])
    v = m.registry.get_sample_value
    assert v("glassbox_traces_total", {"workflow": "qa", "status": "complete"}) == 1
    assert v("glassbox_traces_total", {"workflow": "qa", "status": "failed"}) == 1
    stage = {"workflow": "qa", "stage": "retrieve", "model_version": ""}
    assert v("glassbox_stage_duration_seconds_count", stage) == 1
    assert v("glassbox_stage_duration_seconds_sum", stage) == 0.04  # seconds, not milliseconds
    assert v("glassbox_llm_tokens_total", {"provider": "openai", "model": "gpt-4o-mini", "direction": "input"}) == 100
    assert v("glassbox_llm_cost_usd_total", {"provider": "openai", "model": "gpt-4o-mini"}) == 0.002
    assert v("glassbox_quality_score_count", {"workflow": "qa"}) == 1
    assert v("glassbox_budget_events_total", {"event": "warned"}) == 1
    text = generate_latest(m.registry).decode()
    assert "What is my refund" not in text  # a run's name (often the user's question) is never a label


def test_metric_names_follow_prometheus_conventions():
    m = Metrics()
    m.observe([make_run(1)])
    for family in m.registry.collect():
        assert family.name.startswith("glassbox_")
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), family.name
        if family.type == "histogram" and "score" not in family.name:
            assert family.name.endswith("_seconds"), family.name


def test_foreign_runs_without_a_workflow_share_one_label_set():
    m = Metrics()
    runs = [make_run(i, workflow=None) for i in range(1, 4)]
    for i, r in enumerate(runs):
        r.name = f"GET /users/{i}"
        r.spans.append(Span(r.trace_id, f"{i:016x}", r.root_span_id, "db", "stage", r.start_ns))
    m.observe(runs)
    assert m.registry.get_sample_value("glassbox_traces_total", {"workflow": "", "status": "complete"}) == 3


def test_multiprocess_mode_sums_every_process(tmp_path):
    """Under PROMETHEUS_MULTIPROC_DIR (gunicorn / `glassbox serve --workers`), one exposition covers all."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(Path(__file__).parents[1] /
                                                                                          "analysis")}  # fmt: skip
    observe = textwrap.dedent("""
        from glassbox.monitoring.metrics import Metrics
        from runs_builder import make_run
        Metrics().observe([make_run(1)])
    """)
    for _ in range(2):
        subprocess.run([sys.executable, "-c", observe], env=env, check=True)
    expose = textwrap.dedent("""
        from prometheus_client import generate_latest
        from glassbox.monitoring.metrics import Metrics, exposition_registry
        print(generate_latest(exposition_registry(Metrics())).decode())
    """)
    out = subprocess.run([sys.executable, "-c", expose], env=env, check=True, capture_output=True, text=True).stdout
    assert 'glassbox_traces_total{status="complete",workflow="qa"} 2.0' in out
