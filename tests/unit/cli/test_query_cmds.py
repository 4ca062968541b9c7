"""The query commands: same answers as the query API, JSON for scripts, clear errors and exit codes."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glassbox.analysis.query import Query
from glassbox.cli.app import app

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "analysis"))
from runs_builder import make_run

runner = CliRunner()


@pytest.fixture
def filled(store, store_url):
    store.write_traces(
        [
            make_run(
                1,
                ago=timedelta(hours=3),
                quality=0.9,
                passed=True,
                dims={"grounding": 0.9},
                decisions=[("retrieve", "use bm25", 0.8)],
                tags=["prod"],
                cost=0.01,
                stages=[("retrieve", 40, "ok"), ("llm", 50, "ok")],
            ),
            make_run(
                2,
                ago=timedelta(hours=2),
                quality=0.3,
                passed=False,
                dims={"grounding": 0.2},
                decisions=[("retrieve", "use dense", 0.6)],
                stages=[("retrieve", 200, "ok"), ("llm", 90, "ok")],
            ),
            make_run(
                3,
                ago=timedelta(hours=1),
                status="failed",
                stages=[("retrieve", 490, "error")],
                workflow="summarize",
                metadata={"release": "b"},
            ),
        ]
    )
    return store_url


def run(*args: str):
    return runner.invoke(app, list(args))


def test_traces_with_filters_and_cursor(filled):
    out = run("traces", "--store", filled, "--json", "--workflow", "qa", "--tag", "prod")
    assert out.exit_code == 0, out.output
    assert [r["trace_id"][-1] for r in json.loads(out.stdout)] == ["1"]
    first = run("traces", "--store", filled, "--json", "--limit", "2")
    cursor = first.stderr.split("--cursor ")[1].strip()
    rest = run("traces", "--store", filled, "--json", "--limit", "2", "--cursor", cursor)
    assert [r["trace_id"][-1] for r in json.loads(first.stdout) + json.loads(rest.stdout)] == ["3", "2", "1"]
    assert run("traces", "--store", filled, "--meta", "release=b", "--json").stdout.count("trace_id") == 1
    table = run("traces", "--store", filled, "--status", "failed")
    assert table.exit_code == 0 and "summarize" in table.stdout and "qa" not in table.stdout.split("\n", 2)[2]


def test_summary_latency_failures_decisions_principles_match_the_api(filled, store):
    q = Query(store)
    for args, expected in (
        (["summary"], q.summary()),
        (["latency", "--by", "stage"], q.latency(by="stage")),
        (["failures"], q.failed_stages()),
        (["decisions"], q.decisions()),
        (["principles", "--min-runs", "1"], q.principle_patterns(min_runs=1)),
    ):
        out = run(*args, "--store", filled, "--json")
        assert out.exit_code == 0, out.output
        assert json.loads(out.stdout) == json.loads(json.dumps(expected)), args
    text = run("failures", "--store", filled).stdout
    assert "retrieve" in text and "Timeout" in text
    assert "use dense" in run("decisions", "--store", filled).stdout
    assert "grounding" in run("principles", "--store", filled, "--min-runs", "1").stdout
    assert "p95" in run("latency", "--store", filled).stdout


def test_compare(filled):
    out = run("compare", f"{1:032x}", f"{2:032x}", "--store", filled, "--json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["gaps_b_only"] == ["grounding"] and doc["quality_delta"] == pytest.approx(-0.6)
    table = run("compare", f"{1:032x}", f"{2:032x}", "--store", filled)
    assert table.exit_code == 0 and "use bm25" in table.stdout and "use dense" in table.stdout
    missing = run("compare", "f" * 32, f"{2:032x}", "--store", filled)
    assert missing.exit_code == 1 and missing.stderr.startswith("error: no trace")


def test_bad_input_exit_codes(filled):
    cases = [
        (["traces", "--since", "last tuesday"], 2, "since: expected a date"),
        (["traces", "--status", "weird"], 2, "status: expected one of"),
        (["traces", "--meta", "novalue"], 2, "metadata: expected key=value"),
        (["traces", "--cursor", "garbage"], 2, "cursor"),
        (["latency", "--by", "colour"], 2, "latency by"),
        (["latency", "--percentiles", "50,abc"], 2, "--percentiles"),
        (["latency", "--percentiles", "150"], 2, "between 0 and 100"),
    ]
    for args, code, message in cases:
        out = run(*args, "--store", filled)
        assert out.exit_code == code, (args, out.output)
        assert message in out.stderr and "Traceback" not in out.output
    out = run("traces", "--workflow", "x'; DROP TABLE traces; --", "--store", filled, "--json")
    assert out.exit_code == 0 and json.loads(out.stdout) == []
    assert run("summary", "--store", filled, "--json").exit_code == 0
