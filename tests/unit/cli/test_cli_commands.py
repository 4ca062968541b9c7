"""`glassbox demo / traces / show / db` against a real SQLite store in tmp_path."""

from __future__ import annotations

import json
import subprocess
import sys

import orjson
import pytest
from typer.testing import CliRunner

import glassbox as gb
from glassbox.cli.app import app
from glassbox.demo import WORKFLOWS, run_demo
from glassbox.store.store import Store
from glassbox.store.trail import trail_files

WIDE = {"COLUMNS": "240"}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/store/glassbox.db"


@pytest.fixture
def demo(url, tmp_path):
    """Six seeded demo runs in the store and the trail (no simulated latency)."""
    return run_demo(6, 3, store=url, trail_dir=str(tmp_path / "trail"), pace=0)


def _trail_lines(folder) -> dict[str, dict]:
    docs = [orjson.loads(line) for f in trail_files([folder]) for line in f.read_bytes().splitlines() if line]
    return {d["trace_id"]: d for d in docs}


def test_demo_command_records_and_points_to_the_next_commands(runner, url, tmp_path):
    result = runner.invoke(
        app, ["demo", "--runs", "5", "--seed", "11", "--store", url, "--trail-dir", str(tmp_path / "trail")], env=WIDE
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "demo: 5 runs (seed 11)" in out and "Trace Summary" in out and "Quality:" in out
    assert "glassbox traces" in out and "--verbose" in out and f"--store {url}" in out
    st = Store(url)
    rows = [r for r in st.list_traces(limit=1000) if r["workflow"] in WORKFLOWS]  # the features' sections add more
    st.close()
    assert len(rows) == 5 and any(r["status"] == "failed" for r in rows)
    for r in rows:
        assert r["trace_id"][:12] in out


def test_demo_command_defaults_to_the_configured_store(tmp_path):
    # In a process of its own: the default store URL is relative to the cwd.
    code = "from glassbox.cli.app import main; main()"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False
        )

    demo = run("demo", "--runs", "2")
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / ".glassbox" / "glassbox.db").is_file()
    assert "glassbox traces" in demo.stdout and "--store" not in demo.stdout
    listed = run("traces", "--json", "--limit", "1000")
    assert listed.returncode == 0
    assert len([r for r in json.loads(listed.stdout) if r["workflow"] in WORKFLOWS]) == 2  # + the sections' runs


def test_traces_json_lists_summaries_newest_first(runner, url, demo):
    result = runner.invoke(app, ["traces", "--json", "--store", url])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 6 and all(r["trace_id"] for r in rows)
    assert {r["trace_id"] for r in rows} == {t.trace_id for t in demo.traces}
    started = [r["started_at"] for r in rows]
    assert started == sorted(started, reverse=True)
    assert {"workflow", "intent", "domain", "status", "duration_ms", "cost_usd", "quality_score"} <= set(rows[0])


def test_traces_filters_and_limit(runner, url, demo):
    def ids(*args: str) -> set[str]:
        result = runner.invoke(app, ["traces", "--json", "--store", url, *args])
        assert result.exit_code == 0, result.output
        return {r["trace_id"] for r in json.loads(result.stdout)}

    failed = {t.trace_id for t in demo.failed}
    assert ids("--status", "failed") == failed
    wf = demo.traces[0].workflow
    assert ids("--workflow", wf) == {t.trace_id for t in demo.traces if t.workflow == wf}
    intent, domain = demo.traces[1].intent, demo.traces[1].domain
    assert ids("--intent", intent, "--domain", domain) == {
        t.trace_id for t in demo.traces if t.intent == intent and t.domain == domain
    }
    assert ids("--project", "demo") == {t.trace_id for t in demo.traces}
    assert ids("--project", "other") == set()
    assert len(ids("--limit", "2")) == 2
    assert len(ids("--since", "15d")) == 6 and len(ids("--since", "2000-01-01")) == 6  # the demo spans 14 days
    assert ids("--since", "1h") == {demo.traces[-1].trace_id}  # its newest run is the only recent one
    assert ids("--until", "2000-01-01") == set()
    assert ids("--since", "2999-01-01T00:00:00Z") == set()
    assert len(ids("--until", "2999-12-31", "--since", "15d")) == 6


def test_traces_table_shows_each_run(runner, url, demo):
    result = runner.invoke(app, ["traces", "--store", url], env=WIDE)
    assert result.exit_code == 0, result.output
    for t in demo.traces:
        assert t.trace_id[:12] in result.stdout
    assert "failed" in result.stdout and "complete" in result.stdout
    narrow = runner.invoke(app, ["traces", "--store", url], env={"COLUMNS": "60"})
    assert narrow.exit_code == 0
    assert all(len(line) <= 60 for line in narrow.stdout.splitlines())
    empty = runner.invoke(app, ["traces", "--store", url, "--project", "nobody"])
    assert empty.exit_code == 0 and "no traces match" in empty.stdout


def test_show_json_is_the_trail_document(runner, url, demo, tmp_path):
    trail = _trail_lines(tmp_path / "trail")
    st = Store(url)
    for t in demo.traces:
        result = runner.invoke(app, ["show", t.trace_id, "--json", "--store", url])
        assert result.exit_code == 0, result.output
        shown = json.loads(result.stdout)
        # Calibration flags land after the trace is stored (alerts, flagged_for_review): the rest is the line.
        later = ("alerts", "flagged_for_review")
        assert {k: v for k, v in shown.items() if k not in later} == {
            k: v for k, v in trail[t.trace_id].items() if k not in later
        }
        assert all(a["source"] == "calibration" for a in shown["alerts"])
        assert result.stdout == json.dumps(st.get_trace(t.trace_id).to_dict()) + "\n"
    st.close()


def test_show_accepts_a_unique_prefix(runner, url, demo):
    t = demo.traces[2]
    result = runner.invoke(app, ["show", t.trace_id[:10].upper(), "--json", "--store", url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["trace_id"] == t.trace_id


def test_show_prints_the_compact_scorecard(runner, url, demo):
    t = next(t for t in demo.traces if t.status == "complete")
    result = runner.invoke(app, ["show", t.trace_id, "--store", url])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Trace Summary" in out and f"Trace: {t.trace_id}" in out
    assert f"Quality: {t.quality_score:.2f}/1.00" in out and ("PASS" in out or "FAIL" in out)
    assert "Duration:" in out and "Cost: $" in out and "Evidence:" in out
    failed = demo.failed[0]
    out = runner.invoke(app, ["show", failed.trace_id, "--store", url]).stdout
    assert "Status: failed" in out and failed.error["type"] in out


def test_show_verbose_breaks_the_run_down(runner, url, demo):
    t = next(t for t in demo.traces if t.status == "complete")
    result = runner.invoke(app, ["show", t.trace_id, "--verbose", "--store", url], env=WIDE)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for label in (
        "Trace Detail",
        "Trace ID:",
        "Project:",
        "Input:",
        "Intent:",
        "Domain:",
        "Status:",
        "Duration:",
        "Quality",
        "Dimensions:",
        "Stages",
        "Decisions",
        "Evidence",
    ):
        assert label in out, label
    assert t.trace_id in out and t.input in out
    for d in t.decisions:
        assert d.what in out and f"confidence {d.confidence:.2f}" in out
        best = max(d.alternatives, key=lambda a: a[1])
        assert f"1) {best[0]} ({best[1]:.2f})" in out  # alternatives ranked, best first
    for s in t.spans:
        if s.span_id != t.root_span_id:
            assert s.name in out
    assert "(1 decision)" in out or "decisions)" in out


def test_show_verbose_lists_the_error_of_a_failed_run(runner, url, demo):
    t = demo.failed[0]
    out = runner.invoke(app, ["show", t.trace_id, "-v", "--store", url], env=WIDE).stdout
    assert "Errors" in out and f"{t.error['type']}: {t.error['message']}" in out
    assert "ERROR" in out


def test_trace_content_is_printed_literally(runner, url, tmp_path):
    hostile = "[bold]boom[/bold] <script>alert(1)</script> [link=https://evil.example]x[/link]"
    gb.configure(store=url, trail_dir=str(tmp_path / "trail"), project="p")
    with gb.trace(hostile, workflow="[red]wf", intent="[i]n", domain="d") as t:
        with gb.stage("[blink]stage"):
            gb.decision("[bold]pick[/]", why="because [u]so", confidence=0.5, alternatives={"[b]alt": 0.4})
            gb.evidence("[dim]ev", note="[green]x")
        gb.score("quality", 0.5, max=1.0, passed=False, dimensions={"[x]dim": 0.1})
        t.output = "<b>[yellow]answer</b>"
    assert gb.flush(10)
    gb.shutdown()

    verbose = runner.invoke(app, ["show", t.trace_id, "-v", "--store", url], env=WIDE)
    assert verbose.exit_code == 0, verbose.output
    for literal in (
        hostile,
        "[red]wf",
        "[i]n",
        "[blink]stage",
        "[bold]pick[/]",
        "because [u]so",
        "1) [b]alt",
        "[dim]ev",
        "note=[green]x",
        "[x]dim:",
        "<b>[yellow]answer</b>",
    ):
        assert literal in verbose.stdout, literal
    compact = runner.invoke(app, ["show", t.trace_id, "--store", url]).stdout
    assert "Gaps: [x]dim" in compact
    table = runner.invoke(app, ["traces", "--store", url], env=WIDE).stdout
    assert hostile in table and "[red]wf" in table


def test_db_upgrade_and_info(runner, tmp_path):
    url = f"sqlite:///{tmp_path}/fresh/new.db"
    missing = runner.invoke(app, ["db", "info", "--store", url])
    assert missing.exit_code == 1 and missing.stderr.startswith("error: no store at")
    assert not (tmp_path / "fresh").exists()  # looking does not create a store

    up = runner.invoke(app, ["db", "upgrade", "--store", url])
    assert up.exit_code == 0, up.output
    from glassbox.store.database import HEAD_REVISION

    assert f"to {HEAD_REVISION}" in up.stdout
    again = runner.invoke(app, ["db", "upgrade", "--store", url])
    assert again.exit_code == 0 and "up to date" in again.stdout

    info = runner.invoke(app, ["db", "info", "--json", "--store", url])
    assert info.exit_code == 0, info.output
    doc = json.loads(info.stdout)
    assert doc["backend"] == "sqlite" and doc["revision"] == doc["head"] and doc["up_to_date"] is True
    assert doc["rows"]["traces"] == 0
    table = runner.invoke(app, ["db", "info", "--store", url])
    assert table.exit_code == 0 and "sqlite" in table.stdout and "up to date" in table.stdout


def test_store_comes_from_glassbox_store_env(runner, url, demo):
    result = runner.invoke(app, ["traces", "--json"], env={"GLASSBOX_STORE": url})
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 6


def test_version_and_help(runner):
    assert runner.invoke(app, ["--version"]).stdout.startswith("glassbox ")
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("demo", "traces", "show", "import", "db"):
        assert cmd in result.stdout
