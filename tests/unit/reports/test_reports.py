"""Reports built on stores whose figures are known: every number equals the query API's, deltas compare with
the period before, empty periods say "no data", the rules fire on the figures they cite, and every format
(Markdown, self-contained HTML, JSON) carries the same numbers with hostile content escaped."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
from runs_builder import make_run

from glassbox.analysis.costs import cost_report
from glassbox.analysis.query import Query
from glassbox.cli.app import app
from glassbox.reports import archive
from glassbox.reports.build import build
from glassbox.reports.html import html
from glassbox.reports.period import Period, period
from glassbox.reports.render import as_json, markdown
from glassbox.store.store import Store

NOW = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
XSS = '<script>window.__pwned = 1</script><img src=x onerror="alert(1)">|pipe'


def _runs() -> list:
    """Two weeks: the older week healthy, the newer one slower, costlier and weaker in edtech."""
    runs = []
    for i in range(40):
        newer = i >= 20
        ago = timedelta(days=(0.2 + (i - 20) * 0.3) if newer else (7.2 + i * 0.3))
        domain = "edtech" if i % 2 else "billing"
        dims = {"grounding": 0.3 if newer and domain == "edtech" else 0.9, "clarity": 0.8}
        runs.append(
            make_run(
                i,
                ago=ago,
                now=NOW,
                workflow="qa" if i % 3 else XSS,
                domain=domain,
                status="failed" if newer and i % 5 == 0 else "complete",
                stages=[("retrieve", 400.0 if newer else 100.0, "ok"), ("llm", 50.0, "ok")],
                cost=0.02 if newer else 0.01,
                model="gpt-4o" if i % 4 else "gpt-4o-mini",
                quality=0.55 if newer else 0.85,
                passed=not newer,
                dims=dims,
                project="p",
            )
        )
    return runs


@pytest.fixture
def filled(store):
    store.write_traces(_runs())
    return store


def test_every_figure_equals_the_query_api(filled):
    q = Query(filled)
    p = period(days=7, now=NOW + timedelta(seconds=1))
    rep = build("weekly", q, p)
    summary, before = q.summary(**p.filters()), q.summary(**p.previous().filters())
    figs = {f.label: f for f in rep.sections[0].figures}
    assert rep.runs == summary["runs"] == 20
    for label, key in (
        ("runs", "runs"),
        ("success rate", "success_rate"),
        ("total cost", "total_cost_usd"),
        ("avg cost per run", "avg_cost_usd"),
        ("avg quality", "avg_quality"),
        ("gate pass rate", "pass_rate"),
        ("p95 duration", "p95_duration_ms"),
    ):
        assert figs[label].value == summary[key] and figs[label].previous == before[key]
    cost = next(s for s in rep.sections if s.title == "Cost")
    costs = cost_report(filled, days=p.days, until=p.until, by="day").to_dict()
    cfigs = {f.label: f.value for f in cost.figures}
    assert cfigs["total cost"] == costs["cost_usd"] and cfigs["most expensive run"] == costs["max_run_cost"]
    by_model = next(s for s in rep.sections if s.title == "Cost by model").tables[0]
    expected = {g.key: g.cost_usd for g in cost_report(filled, days=p.days, until=p.until, by="model").groups}
    assert {row[0]: row[2] for row in by_model.rows} == expected


def test_the_rules_cite_the_figures_they_found(filled):
    rep = build("weekly", Query(filled), period(days=7, now=NOW + timedelta(seconds=1)))
    by_rule = {r.rule: r for r in rep.recommendations}
    p95 = by_rule["stage_p95_rise"]
    assert p95.figures["stage"] == "retrieve" and "rose" in p95.message
    assert p95.figures["previous_p95_ms"] == pytest.approx(100.0) and p95.figures["p95_ms"] == pytest.approx(400.0)
    principle = by_rule["principle_failure_by_domain"]
    assert "grounding" in principle.message and "edtech" in principle.message and "100 %" in principle.message
    assert any("domain=edtech" in path for _, path in principle.links)
    assert by_rule["cost_per_run_rise"].figures["rise"] == pytest.approx(1.0)
    assert by_rule["success_rate_drop"].figures["failed"] == 4
    assert [r.severity for r in rep.recommendations] == sorted(
        (r.severity for r in rep.recommendations), key={"critical": 0, "warning": 1, "info": 2}.get
    )


def test_an_empty_period_is_a_no_data_report_in_every_format(store):
    rep = build("cost", Query(store), period(since="2020-01-01", until="2020-01-08"))
    assert rep.empty and rep.recommendations == []
    assert "No runs started in this period" in markdown(rep)
    assert json.loads(as_json(rep))["empty"] is True
    assert "No runs started in this period" in html(rep)


def test_formats_escape_hostile_content_and_load_nothing(filled):
    rep = build("weekly", Query(filled), period(days=14, now=NOW + timedelta(seconds=1)))
    page = html(rep)
    assert "<script>" not in page and "&lt;script&gt;" in page  # the workflow name, escaped
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", page)  # no URL to any other host
    assert "http://" not in page and "https://" not in page
    assert page.count("data:image/svg+xml;base64,") >= 2  # charts embedded
    md = markdown(rep)
    assert "\\|pipe" in md  # a | in content does not break the Markdown table
    doc = json.loads(as_json(rep))
    assert doc["schema"] == "glassbox.report.v1" and doc["runs"] == 40


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    costs=st.lists(st.one_of(st.none(), st.integers(0, 10_000).map(lambda c: c / 1e4)), min_size=1, max_size=12),
    # a run exactly at the period's edge belongs to it (since is inclusive); keep the draws off the edge
    days_ago=st.lists(st.floats(0.01, 13.9).filter(lambda d: abs(d - 7) > 1e-3), min_size=12, max_size=12),
)
def test_report_totals_equal_sums_by_hand(tmp_path_factory, costs, days_ago):
    st_ = Store(f"sqlite:///{tmp_path_factory.mktemp('r')}/h.db")
    runs = [
        make_run(i, ago=timedelta(days=days_ago[i]), now=NOW, cost=c, stages=[("llm", 10.0, "ok")])
        for i, c in enumerate(costs)
    ]
    st_.write_traces(runs)
    p = Period(NOW - timedelta(days=7), NOW + timedelta(seconds=1))
    rep = build("cost", Query(st_), p)
    figs = {f.label: f for f in rep.sections[0].figures} if not rep.empty else {}
    inside = [r for r, d in zip(runs, days_ago, strict=False) if d < 7]
    before = [r for r, d in zip(runs, days_ago, strict=False) if 7 <= d < 14]
    assert rep.runs == len(inside)
    if inside:
        priced = [r.spans[1].cost_usd for r in inside if r.spans[1].cost_usd is not None]
        assert figs["total cost"].value == pytest.approx(sum(priced), abs=1e-12)
        assert figs["runs"].previous == len(before)
        assert figs["most expensive run"].value == (pytest.approx(max(priced)) if priced else None)
    st_.close()


def test_cli_writes_lists_and_rejects(filled, tmp_path):
    runner = CliRunner()
    out = runner.invoke(
        app,
        [
            "report",
            "quality",
            "--days",
            "7",
            "--format",
            "html",
            "--output",
            str(tmp_path / "r"),
            "--store",
            filled.url,
        ],
    )
    assert out.exit_code == 0, out.output
    path = Path(out.stdout.strip())
    assert path.is_file() and path.suffix == ".html" and "Quality report" in path.read_text()
    listed = runner.invoke(app, ["reports", "--json", "--store", filled.url])
    assert json.loads(listed.stdout)[0]["path"] == str(path.resolve())
    md = runner.invoke(app, ["report", "cost", "--since", "14d", "--store", filled.url])
    assert md.exit_code == 0 and md.stdout.startswith("# Cost report")
    for bad in (
        ["report", "nope"],
        ["report", "cost", "--days", "3", "--since", "2d"],
        ["report", "cost", "--format", "pdf"],
        ["report", "cost", "--since", "yesterday-ish"],
    ):
        res = runner.invoke(app, [*bad, "--store", filled.url])
        assert res.exit_code == 2 and res.stderr.startswith("error: "), (bad, res.output)


def test_retention_deletes_old_files_and_their_rows(filled, tmp_path):
    rep = build("cost", Query(filled), period(days=7))
    path = archive.write(rep, "md", tmp_path / "rep", store=filled)
    assert archive.prune(filled, keep_days=1) == 0 and path.exists()
    from sqlalchemy import update

    from glassbox.store.tables.reports import reports

    with filled.engine.begin() as conn:
        conn.execute(update(reports).values(created_at=datetime(2020, 1, 1)))
    assert archive.prune(filled, keep_days=1) == 1
    assert not path.exists() and archive.listed(filled) == []


def test_unwritable_output_folder_is_a_clear_error(filled, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = CliRunner().invoke(app, ["report", "cost", "--output", str(blocker / "sub"), "--store", filled.url])
    assert res.exit_code == 1 and "cannot write the report" in res.stderr
