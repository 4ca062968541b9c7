"""Every script in examples/ runs on a clean machine state and does what its docstring says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from glassbox.store.store import Store

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.py"))


def run_example(path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLASSBOX_")}
    return subprocess.run(
        [sys.executable, str(path)], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_there_are_examples():
    assert {p.stem for p in EXAMPLES} >= {"quickstart", "decorators", "propagation", "otel_interop", "costs"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_cleanly(path: Path, tmp_path: Path):
    proc = run_example(path, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout.strip(), "an example says what it did"


def test_quickstart_stores_the_trace_with_its_decision(tmp_path: Path):
    proc = run_example(next(p for p in EXAMPLES if p.stem == "quickstart"), tmp_path)
    trace_id = proc.stdout.split()[1].rstrip(":")
    stored = Store(f"sqlite:///{tmp_path}/.glassbox/glassbox.db").get_trace(trace_id)
    assert [d.what for d in stored.decisions] == ["use bm25"]
    assert stored.decisions[0].alternatives == [("dense", 0.6), ("hybrid", 0.7)]  # as given, with scores
    assert stored.quality_score == 0.82 and stored.workflow == "search_qa"
    assert list((tmp_path / ".glassbox" / "traces").glob("*.jsonl"))  # the audit trail too


def test_costs_example_is_stopped_by_its_budget(tmp_path: Path):
    proc = run_example(next(p for p in EXAMPLES if p.stem == "costs"), tmp_path)
    assert "stopped: trace budget exceeded" in proc.stdout
    assert "status failed" in proc.stdout and "(priced)" in proc.stdout


def test_scorers_and_alerts_example_prints_the_alerts_it_raised(tmp_path: Path):
    proc = run_example(next(p for p in EXAMPLES if p.stem == "scorers_and_alerts"), tmp_path)
    for rule in ("repeated_principle_failure", "quality_gate_regression", "apologies"):
        assert f"[CALIBRATION] {rule}:" in proc.stdout
    assert "scores {'quality': 0.85, 'cites_sources': 1.0, 'rubric': 0.85}" in proc.stdout
    assert "\n4 alerts;" in proc.stdout


def test_evaluation_suite_example_finds_the_failing_case_the_golden_breach_and_the_bad_release(tmp_path: Path):
    proc = run_example(next(p for p in EXAMPLES if p.stem == "evaluation_suite"), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "regress: 1 passed, 1 failed, 0 errors" in proc.stdout
    assert "golden refund-policy: breach" in proc.stdout and "missing stages: rerank (stage)" in proc.stdout
    assert "gate v1 -> v2: fail" in proc.stdout and "error_rate rose" in proc.stdout
    assert (tmp_path / "results" / "junit.xml").is_file()


def test_one_count_example_counts_the_call_once(tmp_path: Path):
    proc = run_example(next(p for p in EXAMPLES if p.stem == "one_count"), tmp_path)
    assert proc.stdout.count("duplicate of") == 2 and proc.stdout.count("carries $") == 1
    assert "call price $0.022350; run total $0.022350" in proc.stdout
