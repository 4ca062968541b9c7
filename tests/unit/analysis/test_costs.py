"""Cost statistics on both stores, checked against figures computed by hand; the `glassbox costs` CLI."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from glassbox.analysis.costs import GROUPINGS, cost_report
from glassbox.cli.app import app
from glassbox.errors import GlassboxError
from glassbox.model import Span, Trace
from glassbox.store.store import Store

NOW = datetime(2026, 11, 24, 12, 0, 0)


def _ns(when: datetime) -> int:
    return int(when.replace(tzinfo=UTC).timestamp() * 1e9)


def _run(
    i: int,
    when: datetime,
    workflow: str,
    calls: list[tuple[str, float | None, int, int]],
    status: str = "complete",
    project: str = "p",
) -> Trace:
    t = Trace(f"{i:032x}", workflow)
    t.project, t.workflow, t.status = project, workflow, status
    t.start_ns, t.end_ns = _ns(when), _ns(when) + 2_000_000_000
    root = Span(t.trace_id, f"{i:08x}00000000", None, workflow, "trace", t.start_ns)
    root.end_ns, root.status = t.end_ns, "ok"
    t.root_span_id = root.span_id
    t.spans.append(root)
    for j, (model, cost, tin, tout) in enumerate(calls):
        s = Span(t.trace_id, f"{i:08x}{j + 1:08x}", root.span_id, f"call-{model}", "llm", t.start_ns + j)
        s.end_ns, s.status = t.start_ns + j + 1000, "ok"
        s.model, s.cost_usd, s.tokens_in, s.tokens_out = model, cost, tin, tout
        t.spans.append(s)
    t.cost_source = "unknown" if any(c[1] is None for c in calls) else ("priced" if calls else None)
    return t


@pytest.fixture
def history(store):
    runs = [
        _run(1, NOW - timedelta(days=6), "qa", [("gpt-4o-mini", 0.01, 100, 10), ("gpt-4o", 0.10, 200, 20)]),
        _run(2, NOW - timedelta(days=5), "qa", [("gpt-4o-mini", 0.02, 100, 10)], status="failed"),
        _run(3, NOW - timedelta(days=1), "summarize", [("gpt-4o", 0.30, 300, 30), ("acme-7b", None, 50, 5)]),
        _run(4, NOW - timedelta(hours=2), "qa", [("gpt-4o-mini", 0.03, 100, 10)]),
        _run(5, NOW - timedelta(days=20), "qa", [("gpt-4o", 9.0, 1, 1)]),  # outside the window
        _run(6, NOW - timedelta(hours=1), "qa", [("gpt-4o", 5.0, 1, 1)], project="other"),
    ]
    store.write_traces(runs)
    return store


def test_totals_averages_and_min_max_per_run(history):
    r = cost_report(history, days=7, by="model", project="p", until=NOW)
    assert r.runs == 4
    assert r.cost_usd == pytest.approx(0.46)
    assert r.avg_cost_per_run == pytest.approx(0.46 / 4)
    assert (r.min_run_cost, r.max_run_cost) == (pytest.approx(0.02), pytest.approx(0.30))
    assert r.success_rate == pytest.approx(3 / 4)
    assert (r.tokens_in, r.tokens_out) == (850, 85)
    assert r.unpriced_calls == 1  # acme-7b: tokens, no price; not counted as $0
    assert r.sources == {"priced": 3, "unknown": 1}


def test_by_model_sorted_by_cost_with_shares(history):
    r = cost_report(history, days=7, by="model", project="p", until=NOW)
    assert [g.key for g in r.groups] == ["gpt-4o", "gpt-4o-mini", "acme-7b"]
    big, mini, acme = r.groups
    assert (big.count, big.cost_usd, big.share) == (2, pytest.approx(0.40), pytest.approx(0.40 / 0.46))
    assert (mini.min_cost_usd, mini.max_cost_usd, mini.avg_cost_usd) == (
        pytest.approx(0.01),
        pytest.approx(0.03),
        pytest.approx(0.02),
    )
    assert (acme.cost_usd, acme.avg_cost_usd, acme.unpriced, acme.tokens_in) == (0, None, 1, 50)


def test_by_workflow_and_by_day_and_trend(history):
    r = cost_report(history, days=7, by="workflow", project="p", until=NOW)
    assert {g.key: (g.count, round(g.cost_usd, 6)) for g in r.groups} == {"qa": (3, 0.16), "summarize": (1, 0.30)}
    days = cost_report(history, days=7, by="day", project="p", until=NOW)
    assert [g.key for g in days.groups] == ["2026-11-18", "2026-11-19", "2026-11-23", "2026-11-24"]
    assert [d["runs"] for d in days.daily] == [1, 1, 1, 1]
    # first half (2 runs) avg 0.065 per run, second half avg 0.165: +153.8%
    assert days.trend_pct == pytest.approx(153.8, abs=0.05)


def test_all_projects_and_empty_windows(history):
    assert cost_report(history, days=7, until=NOW).runs == 5
    empty = cost_report(history, days=1, project="nobody", until=NOW)
    assert (empty.runs, empty.cost_usd, empty.groups, empty.avg_cost_per_run, empty.trend_pct) == (0, 0, [], None, None)


def test_bad_arguments_are_clear_errors(history):
    with pytest.raises(GlassboxError, match="by: expected one of"):
        cost_report(history, by="provider")
    with pytest.raises(GlassboxError, match="days must be positive"):
        cost_report(history, days=0)


def test_cli_costs_json_and_table(history, store_url):
    runner = CliRunner()
    out = runner.invoke(
        app, ["costs", "--store", store_url, "--days", "3650", "--by", "workflow", "--project", "p", "--json"]
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["runs"] == 5 and doc["by"] == "workflow"
    assert {g["key"] for g in doc["groups"]} == {"qa", "summarize"}
    table = runner.invoke(app, ["costs", "--store", store_url, "--days", "3650", "--project", "p"])
    assert table.exit_code == 0 and "gpt-4o" in table.stdout and "$9.40" in table.stdout
    assert "had no price" in table.stdout
    bad = runner.invoke(app, ["costs", "--store", store_url, "--by", "provider"])
    assert bad.exit_code == 2 and "--by: expected one of" in bad.stderr
    drop = runner.invoke(app, ["costs", "--store", store_url, "--project", "x'; DROP TABLE traces; --", "--json"])
    assert drop.exit_code == 0 and json.loads(drop.stdout)["runs"] == 0
    assert history.counts()["traces"] == 6  # parameterised: nothing dropped


_calls = st.lists(
    st.tuples(
        st.sampled_from(["m-a", "m-b", "m-c"]),
        st.one_of(st.none(), st.floats(0, 5, allow_nan=False).map(lambda x: round(x, 4))),
        st.integers(0, 5000),
        st.integers(0, 500),
    ),
    max_size=3,
)
_runs = st.lists(
    st.tuples(st.integers(1, 9 * 24), st.sampled_from(["qa", "sum"]), _calls, st.sampled_from(["complete", "failed"])),
    max_size=12,
)


@pytest.fixture(scope="module")
def one_store(tmp_path_factory):
    return Store(f"sqlite:///{tmp_path_factory.mktemp('costs')}/c.db"), itertools.count(1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=_runs, by=st.sampled_from(GROUPINGS))
def test_report_agrees_with_the_runs_summed_by_hand(one_store, runs, by):
    """Any history: the report's totals, groups and days are what summing the runs themselves gives."""
    store, numbers = one_store
    project = f"p{next(numbers)}"  # each example is a project of its own in one store
    built = [
        _run(next(numbers), NOW - timedelta(hours=h), wf, calls, status, project=project)
        for h, wf, calls, status in runs
    ]
    store.write_traces(built)
    r = cost_report(store, days=7, by=by, until=NOW, project=project)
    inside = [t for t in built if t.start_ns >= _ns(NOW - timedelta(days=7))]
    calls = [s for t in inside for s in t.spans if s.kind == "llm"]
    priced_runs = [[s.cost_usd for s in t.spans if s.cost_usd is not None] for t in inside]
    run_costs = [sum(costs) for costs in priced_runs if costs]
    assert r.runs == len(inside)
    assert r.cost_usd == pytest.approx(sum(s.cost_usd or 0 for s in calls), abs=1e-9)
    assert r.unpriced_calls == sum(1 for s in calls if s.cost_usd is None)
    assert (r.tokens_in, r.tokens_out) == (sum(s.tokens_in for s in calls), sum(s.tokens_out for s in calls))
    assert r.max_run_cost == (pytest.approx(max(run_costs)) if run_costs else None)
    assert sum(d["runs"] for d in r.daily) == len(inside)
    assert r.success_rate == (
        pytest.approx(sum(t.status == "complete" for t in inside) / len(inside)) if inside else None
    )
    if by in ("model", "stage"):
        key = (lambda s: s.model) if by == "model" else (lambda s: s.name)
        want = {}
        for s in calls:
            n, c, u = want.get(key(s), (0, 0.0, 0))
            want[key(s)] = (n + 1, c + (s.cost_usd or 0), u + (s.cost_usd is None))
        assert {g.key: (g.count, g.unpriced) for g in r.groups} == {k: (n, u) for k, (n, _, u) in want.items()}
        assert all(g.cost_usd == pytest.approx(want[g.key][1], abs=1e-9) for g in r.groups)
    else:
        assert sum(g.count for g in r.groups) == len(inside)
    costs = [g.cost_usd for g in r.groups]
    assert by == "day" or costs == sorted(costs, reverse=True)  # most expensive first
