"""SLOs: burn-rate math against hand-computed cases and the SRE Workbook's table, SLIs from stored runs on SQLite and
PostgreSQL, alerts fired and resolved, definitions rejected precisely, the CLI's exit codes, promtool on the rules."""

from __future__ import annotations

import calendar
import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from glassbox.cli.app import app
from glassbox.monitoring import notifiers
from glassbox.monitoring.slo import BURN_ALERTS, SLO, SLOError, check, default_rag_slos, evaluate
from glassbox.store.alerts import list_alerts
from glassbox.store.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "analysis"))
from runs_builder import make_run

NOW = datetime(2026, 12, 2, 12, 0, 30)
NOW_MIN = calendar.timegm(NOW.timetuple()) // 60


def steady(minutes: int, per_min: int, bad: int, recent_bad: dict[int, int] | None = None) -> list:
    """Per-minute counts for the last `minutes` minutes; `recent_bad` overrides bad events at minutes ago."""
    recent_bad = recent_bad or {}
    return [(NOW_MIN - i, per_min, per_min - recent_bad.get(i, bad)) for i in range(minutes)]


def test_burn_rates_by_hand():
    slo = SLO("a", "availability", 0.999)
    # 3 days of 100 runs a minute; the last 60 minutes 2 % bad, before that none
    counts = steady(3 * 1440, 100, 0, dict.fromkeys(range(60), 2))
    s = evaluate(slo, counts, NOW)
    assert s.burn_rates["5m"] == pytest.approx(0.02 / 0.001)  # 20x
    assert s.burn_rates["1h"] == pytest.approx(20.0)
    assert s.burn_rates["6h"] == pytest.approx((60 * 2) / (360 * 100) / 0.001)  # 3.33x
    assert s.burn_rates["3d"] == pytest.approx(120 / (3 * 1440 * 100) / 0.001)
    firing = {(a.severity, a.long) for a in s.firing}
    assert firing == {("page", "1h")}  # 6h is only 3.3x; ticket windows are below 3x / 1x
    assert s.events == 3 * 1440 * 100 and s.good == s.events - 120
    assert s.budget_remaining == pytest.approx(1 - (120 / s.events) / 0.001)
    # at 20x, a 30-day budget burns in 1.5 days: what is left of it goes in remaining x 1.5 d
    assert s.time_to_exhaustion_s == pytest.approx(s.budget_remaining * 30 * 86400 / 20)


def test_both_windows_must_exceed():
    slo = SLO("a", "availability", 0.99)
    # a burst that ended 10 minutes ago: the 1h window burns 20x, the 5m window nothing
    counts = steady(1440, 60, 0, dict.fromkeys(range(10, 22), 60))
    s = evaluate(slo, counts, NOW)
    assert s.burn_rates["1h"] > 14.4 and s.burn_rates["5m"] == 0
    assert not [a for a in s.firing if a.long == "1h"]


@pytest.mark.parametrize(
    ("factor", "long_hours", "budget_spent"), [(14.4, 1, 0.02), (6, 6, 0.05), (3, 24, 0.10), (1, 72, 0.10)]
)
def test_the_workbook_table(factor, long_hours, budget_spent):
    """SRE Workbook table 5-8: each factor is the share of a 30-day budget its long window spends."""
    assert (factor, timedelta(hours=long_hours)) in {(f, lng) for _, lng, _, f in BURN_ALERTS}
    assert factor * long_hours / (30 * 24) == pytest.approx(budget_spent)
    assert {lng / sht for _, lng, sht, _ in BURN_ALERTS} == {12}


@settings(max_examples=60, deadline=None)
@given(per_min=st.integers(1, 50), bad_share=st.floats(0, 1), objective=st.floats(0.5, 0.9999))
def test_a_steady_error_ratio_burns_at_ratio_over_budget_in_every_window(per_min, bad_share, objective):
    bad = round(per_min * bad_share)
    s = evaluate(SLO("a", "availability", objective), steady(3 * 1440 + 5, per_min, bad), NOW)
    expected = (bad / per_min) / (1 - objective)
    assert all(r == pytest.approx(expected, rel=1e-9, abs=1e-12) for r in s.burn_rates.values())
    assert {a.severity for a in s.firing} == {sev for sev, _, _, f in BURN_ALERTS if expected > f}


def _store_with_runs(url: str) -> Store:
    now = datetime.utcnow()
    runs = []
    for i in range(1, 41):  # 40 runs over the last 40 minutes, the 10 newest failed and slow
        recent = i > 30
        runs.append(
            make_run(
                i,
                ago=timedelta(minutes=41 - i),
                now=now,
                status="failed" if recent else "complete",
                duration_ms=9000 if recent else 300,
                quality=0.5 if recent else 0.9,
                stages=[("retrieve", 100, "ok"), ("llm", 8000 if recent else 150, "ok")],
            )
        )
    runs.append(make_run(99, ago=timedelta(days=40), now=now, status="failed"))  # outside the window
    s = Store(url)
    s.write_traces(runs)
    return s


def test_slis_from_stored_runs(store_url):
    s = _store_with_runs(store_url)
    by = {
        x.slo.name: x
        for x in check(
            s,
            [
                SLO("avail", "availability", 0.99),
                SLO("lat", "latency", 0.99, threshold_ms=5120),
                SLO("stage_lat", "latency", 0.9, threshold_ms=640, stage="llm"),
                SLO("qual", "quality", 0.9, min_score=0.8),
                SLO("err", "error_rate", 0.99),
                SLO("ratio", "ratio", 0.5, good={"min_score": 0.8}, total={"workflow": "qa"}),
                SLO("other", "availability", 0.99, workflow="nothing-here"),
            ],
            alert=False,
        )
    }
    for name in ("avail", "lat", "stage_lat", "qual", "err", "ratio"):
        assert (by[name].events, by[name].good) == (40, 30), name
        assert by[name].sli == pytest.approx(0.75)
    assert by["other"].events == 0 and by["other"].sli is None and by["other"].firing == []
    # 25 % bad in the last hour against a 1 % budget: 25x on both page windows
    assert by["avail"].burn_rates["1h"] == pytest.approx(25.0)
    assert {(a.severity, a.long) for a in by["avail"].firing} >= {("page", "1h"), ("page", "6h")}
    assert by["avail"].burn_down[-1][1] == pytest.approx(by["avail"].budget_remaining)


def test_stage_latency_and_scoped_ratio_slos_read_indexes_only(tmp_path):
    """What keeps them under 500 ms at 1M spans: no row lookup per span or per run (SQLite's plan)."""
    from sqlalchemy import event

    s = _store_with_runs(f"sqlite:///{tmp_path}/slo.db")
    statements = []
    event.listen(s.engine, "before_cursor_execute", lambda c, cur, sql, params, *_: statements.append((sql, params)))
    check(
        s,
        [
            SLO("stage_lat", "latency", 0.9, threshold_ms=640, stage="llm", workflow="qa"),
            SLO("ratio", "ratio", 0.5, good={"min_score": 0.8}, total={"environment": "prod", "release": "r1"}),
        ],
        alert=False,
    )
    plans = []
    with s.engine.connect() as conn:
        for sql, params in statements:
            if sql.lstrip().upper().startswith("SELECT"):
                plans.append([row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)])
    reads = [step for plan in plans for step in plan if "traces" in step or "spans" in step]
    assert any("ix_spans_trace_name" in step for step in reads), reads
    assert reads and all("USING COVERING INDEX" in step for step in reads), reads


def test_check_fires_and_resolves_slo_alerts(store_url):
    got = []
    notifiers.set_delivery(notifiers.Delivery([notifiers.CallbackNotifier()]))
    notifiers.on_alert(lambda a: got.append((a.event, a.rule, a.severity)), source="slo")
    try:
        s = _store_with_runs(store_url)
        slo = SLO("avail", "availability", 0.99)
        check(s, [slo])
        check(s, [slo])  # still burning: the same open alerts, counted
        (page,) = list_alerts(s, source="slo", rule="avail:page")
        assert page.severity == "critical" and page.count == 2 and page.state == "firing"
        assert "burns its error budget 25.0x over 1h" in page.message
        later = datetime.utcnow() + timedelta(hours=4)
        check(s, [slo], now=later)
        assert list_alerts(s, source="slo", rule="avail:page", state="open") == []
        notifiers.delivery().flush()
        assert ("firing", "avail:page", "critical") in got and ("resolved", "avail:page", "critical") in got
    finally:
        notifiers.delivery().close()
        notifiers.set_delivery(None)
        notifiers.remove_callbacks()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "x", "sli": "speed", "objective": 0.9}, "sli must be one of"),
        ({"name": "x", "sli": "availability", "objective": 150}, "objective must be between 0 and 1"),
        ({"name": "x", "sli": "latency", "objective": 0.9, "threshold_ms": 500}, "not a bucket boundary"),
        ({"name": "x", "sli": "latency", "objective": 0.9}, "needs threshold_ms"),
        ({"name": "x", "sli": "quality", "objective": 0.9}, "needs min_score"),
        ({"name": "x", "sli": "availability", "objective": 0.9, "window": "30 days"}, "window must look like"),
        ({"name": "x", "sli": "availability", "objective": 0.9, "objectiv": 1}, "unknown key 'objectiv'"),
        ({"name": "x", "sli": "ratio", "objective": 0.9, "good": {"scor": 1}}, "good: unknown filter 'scor'"),
        ({"name": "x y", "sli": "availability", "objective": 0.9}, "use letters, digits"),
    ],
)
def test_bad_definitions_name_the_slo_and_key(spec, message):
    with pytest.raises(SLOError, match=message):
        SLO.from_dict(spec)


def test_percent_objectives_and_calendar_windows():
    assert SLO("a", "availability", 99.9).objective == pytest.approx(0.999)
    s = evaluate(SLO("m", "availability", 0.99, window="month"), steady(3 * 1440, 10, 1), NOW)
    assert s.events == 10 * (36 * 60 + 1)  # the minutes from Dec 1 00:00 to 12:00 on Dec 2, not 3 days


runner = CliRunner()


def test_cli_init_status_check_and_exit_codes(tmp_path, monkeypatch, store_url):
    monkeypatch.chdir(tmp_path)
    s = _store_with_runs(store_url)
    s.close()
    notifiers.set_delivery(notifiers.Delivery([]))
    try:
        assert runner.invoke(app, ["slo", "status", "--store", store_url]).exit_code == 2  # none defined yet
        out = runner.invoke(app, ["slo", "init"])
        assert out.exit_code == 0 and (tmp_path / "glassbox.toml").read_text().count("[[slo]]") == 4
        assert runner.invoke(app, ["slo", "init"]).exit_code == 2  # already there
        status_out = runner.invoke(app, ["slo", "status", "--store", store_url, "--json"])
        assert status_out.exit_code == 0
        assert {d["slo"]["name"] for d in json.loads(status_out.stdout)} == {
            "availability",
            "latency",
            "quality",
            "error_rate",
        }
        checked = runner.invoke(app, ["slo", "check", "availability", "--store", store_url])
        assert checked.exit_code == 1 and "page" in checked.stdout
        alerts_out = runner.invoke(app, ["alerts", "--store", store_url, "--source", "slo", "--json"])
        assert {a["rule"] for a in json.loads(alerts_out.stdout)} >= {"availability:page"}
        assert runner.invoke(app, ["slo", "check", "nope", "--store", store_url]).exit_code == 2
        (tmp_path / "glassbox.toml").write_text('[[slo]]\nname = "x"\nsli = "latency"\nobjective = 0.9\n')
        bad = runner.invoke(app, ["slo", "check", "--store", store_url])
        assert bad.exit_code == 2 and "needs threshold_ms" in bad.stderr
    finally:
        notifiers.set_delivery(None)


def test_default_slos_make_rules_that_promtool_checks_and_tests(tmp_path):
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    from glassbox.monitoring.slo_rules import write_rules

    slos = [
        *default_rag_slos(),
        SLO("retrieve_latency", "latency", 0.95, threshold_ms=640, stage="retrieve", workflow="qa", service="rag"),
        SLO("mixed", "ratio", 0.9, good={"min_score": 0.5}),
    ]
    (rules, tests), skipped = write_rules(slos, tmp_path / "prom")
    assert skipped == [("mixed", "a ratio of trace filters has no metric series (it is checked from the store only)")]
    text = rules.read_text()
    for name in (
        "slo:sli_error:ratio_rate5m",
        "slo:sli_error:ratio_rate3d",
        "slo:sli_error:ratio_rate30d",
        "slo:error_budget:ratio",
        "slo:objective:ratio",
        "slo:period_error_budget_remaining:ratio",
        'le=\\"5.12\\"',
        'le=\\"0.64\\"',
        "GlassboxSLOAvailabilityPage",
        "GlassboxSLORetrieveLatencyTicket",
    ):
        assert name in text, name
    checked = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", tests.name], cwd=tests.parent, capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # the tests can fail: a wrong expected ratio is caught
    wrong = tests.read_text().replace("value: 0.5\n", "value: 0.4\n", 1)
    (tests.parent / "wrong.test.yml").write_text(wrong)
    failed = subprocess.run(
        [promtool, "test", "rules", "wrong.test.yml"], cwd=tests.parent, capture_output=True, text=True, check=False
    )
    assert failed.returncode != 0


def test_a_python_slo_with_its_own_callback(store_url):
    from glassbox.monitoring.slo import _defined, define, load

    got = []
    notifiers.set_delivery(notifiers.Delivery([notifiers.CallbackNotifier()]))
    try:
        slo = define(SLO("avail_cb", "availability", 0.99), on_alert=lambda a: got.append((a.event, a.severity)))
        define(SLO("other_cb", "availability", 0.99))
        assert {s.name for s in load()} >= {"avail_cb", "other_cb"}
        s = _store_with_runs(store_url)
        check(s, [slo, _defined["other_cb"]])
        notifiers.delivery().flush()
        assert sorted(got) == [("firing", "critical"), ("firing", "warning")]  # page and ticket, this SLO's only
    finally:
        notifiers.delivery().close()
        notifiers.set_delivery(None)
        notifiers.remove_callbacks()
        _defined.pop("avail_cb", None)
        _defined.pop("other_cb", None)
