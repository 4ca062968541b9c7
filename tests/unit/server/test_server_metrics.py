"""Prometheus metrics: names and units, label sets that stay bounded, and prometheus_client multiprocess mode."""

from __future__ import annotations

import itertools
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
    assert v("glassbox_traces_total", {"workflow": "qa", "status": "complete", "model_version": ""}) == 1
    assert v("glassbox_traces_total", {"workflow": "qa", "status": "failed", "model_version": ""}) == 1
    assert v("glassbox_run_errors_total", {"workflow": "qa", "model_version": ""}) == 1
    assert v("glassbox_stages_total", {"workflow": "qa", "stage": "fetch", "status": "error", "model_version": ""}) == 1
    assert v("glassbox_llm_calls_total", {"provider": "openai", "model": "gpt-4o-mini", "outcome": "success"}) == 1
    assert (
        v(
            "glassbox_llm_tokens_per_call_bucket",
            {"provider": "openai", "model": "gpt-4o-mini", "direction": "input", "le": "256.0"},
        )
        == 1
    )
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
        if family.type == "histogram" and "score" not in family.name and "tokens" not in family.name:
            assert family.name.endswith("_seconds"), family.name


def test_foreign_runs_without_a_workflow_share_one_label_set():
    m = Metrics()
    runs = [make_run(i, workflow=None) for i in range(1, 4)]
    for i, r in enumerate(runs):
        r.name = f"GET /users/{i}"
        r.spans.append(Span(r.trace_id, f"{i:016x}", r.root_span_id, "db", "stage", r.start_ns))
    m.observe(runs)
    assert (
        m.registry.get_sample_value(
            "glassbox_traces_total", {"workflow": "", "status": "complete", "model_version": ""}
        )
        == 3
    )


def test_multiprocess_mode_sums_every_process(tmp_path):
    """Under PROMETHEUS_MULTIPROC_DIR (gunicorn / `glassbox serve --workers`), one exposition covers all."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).parents[1] / "analysis"),
    }
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
    assert 'glassbox_traces_total{model_version="",status="complete",workflow="qa"} 2.0' in out
    assert "glassbox_llm_calls_total" in out or 'glassbox_stages_total{model_version="",stage="retrieve"' in out


def test_latency_buckets_reach_llm_time_scales_and_quality_uses_the_score_scale():
    from glassbox.monitoring.buckets import DURATION_BUCKETS_S, TOKEN_BUCKETS

    assert DURATION_BUCKETS_S == (
        0.01,
        0.02,
        0.04,
        0.08,
        0.16,
        0.32,
        0.64,
        1.28,
        2.56,
        5.12,
        10.24,
        20.48,
        40.96,
        81.92,
    )  # the OTel GenAI gen_ai.client.operation.duration advice
    assert (
        TOKEN_BUCKETS[0] == 1
        and TOKEN_BUCKETS[-1] == 67108864
        and all(b == a * 4 for a, b in itertools.pairwise(TOKEN_BUCKETS))
    )
    m = Metrics()
    slow = make_run(1, duration_ms=30_000, quality=2.5)  # a 30 s run scored 2.5 on a 0-3 rubric
    m.observe([slow])
    v = m.registry.get_sample_value
    labels = {"workflow": "qa", "model_version": ""}
    assert v("glassbox_trace_duration_seconds_bucket", {**labels, "le": "20.48"}) == 0
    assert v("glassbox_trace_duration_seconds_bucket", {**labels, "le": "40.96"}) == 1  # not lumped into +Inf
    assert v("glassbox_quality_score_bucket", {"workflow": "qa", "le": "2.4"}) == 0
    assert v("glassbox_quality_score_bucket", {"workflow": "qa", "le": "2.7"}) == 1  # tenths of the 0-3 scale


def test_current_model_version_is_an_info_gauge():
    m = Metrics()
    old, new = make_run(1, ago=__import__("datetime").timedelta(hours=2)), make_run(2)
    old.release, new.release = "v1", "v2"
    m.observe([old])
    m.observe([new])
    v = m.registry.get_sample_value
    assert v("glassbox_model_version_info", {"model_version": "v2"}) == 1
    assert v("glassbox_model_version_info", {"model_version": "v1"}) == 0
    assert v("glassbox_traces_total", {"workflow": "qa", "status": "complete", "model_version": "v2"}) == 1


def test_the_metrics_port_setting_serves_the_same_names_as_serve(tmp_path, monkeypatch):
    import socket

    import httpx

    import glassbox as gb

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("GLASSBOX_METRICS_PORT", str(port))
    gb.configure(store=f"sqlite:///{tmp_path}/m.db", trail_dir=None)
    with gb.trace("q", workflow="qa", release="r7"), gb.stage("retrieve"):
        pass
    gb.flush()
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'glassbox_traces_total{model_version="r7",status="complete",workflow="qa"} 1.0' in text
    assert 'glassbox_model_version_info{model_version="r7"} 1.0' in text
    assert (
        'glassbox_stage_duration_seconds_bucket{le="81.92",model_version="r7",stage="retrieve",workflow="qa"}' in text
    )
