"""`glassbox export` and `glassbox gc`: round trips, datasets, retention of rows and trail files, bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from glassbox.cli.app import app
from glassbox.store.retention import old_trail_files
from glassbox.store.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "analysis"))
from runs_builder import make_run

runner = CliRunner()


@pytest.fixture
def filled(store, store_url):
    now = datetime.now(UTC).replace(tzinfo=None)  # the CLI's "7d" and "30d" count back from the real clock
    store.write_traces(
        [
            make_run(
                1,
                ago=timedelta(days=60),
                quality=0.2,
                decisions=[("retrieve", "use bm25", 0.5)],
                text="old one",
                now=now,
            ),
            make_run(
                2,
                ago=timedelta(days=2),
                quality=0.9,
                passed=True,
                cost=0.01,
                text="What is the refund window?",
                stages=[("retrieve", 10, "ok"), ("llm", 20, "ok")],
                now=now,
            ),
            make_run(
                3,
                ago=timedelta(hours=1),
                workflow="summarize",
                quality=0.5,
                passed=False,
                tags=["x"],
                text="Sum",
                now=now,
            ),
        ]
    )
    return store_url


def test_jsonl_export_round_trips_through_import(filled, tmp_path):
    out = tmp_path / "runs.jsonl"
    res = runner.invoke(app, ["export", "--store", filled, "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(x)["schema_version"] == 1 for x in lines)
    fresh = f"sqlite:///{tmp_path}/fresh.db"
    assert runner.invoke(app, ["import", str(out), "--store", fresh]).exit_code == 0
    a, b = Store(filled), Store(fresh)
    for i in (1, 2, 3):
        assert b.get_trace(f"{i:032x}").to_dict() == a.get_trace(f"{i:032x}").to_dict()


def test_csv_and_parquet_runs_and_router_dataset(filled, tmp_path):
    res = runner.invoke(app, ["export", "--store", filled, "--format", "csv", "--workflow", "qa"])
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["trace_id"][-1] for r in rows] == ["2", "1"] and rows[0]["cost_usd"] == "0.01"
    router = runner.invoke(app, ["export", "--store", filled, "--format", "csv", "--dataset", "router"])
    first = next(csv.DictReader(io.StringIO(router.stdout)))
    assert list(first) == [
        "question",
        "workflow",
        "intent",
        "domain",
        "status",
        "quality",
        "passed",
        "cost_usd",
        "latency_ms",
        "trace_id",
        "started_at",
    ]
    assert (first["question"], first["workflow"], first["quality"]) == ("Sum", "summarize", "0.5")
    pq_path = tmp_path / "router.parquet"
    res = runner.invoke(
        app,
        [
            "export",
            "--store",
            filled,
            "--format",
            "parquet",
            "--dataset",
            "router",
            "--out",
            str(pq_path),
            "--since",
            "7d",
        ],
    )
    assert res.exit_code == 0, res.output
    table = pq.read_table(pq_path).to_pylist()
    assert [r["question"] for r in table] == ["Sum", "What is the refund window?"]
    assert table[1]["latency_ms"] == pytest.approx(100.0) and table[1]["passed"] is True
    empty = tmp_path / "none.parquet"
    assert (
        runner.invoke(
            app, ["export", "--store", filled, "--format", "parquet", "--out", str(empty), "--workflow", "nope"]
        ).exit_code
        == 0
    )
    assert pq.read_table(empty).num_rows == 0


def test_export_bad_input(filled, tmp_path):
    for args, message in (
        (["--format", "xml"], "--format: expected one of"),
        (["--dataset", "everything"], "--dataset: expected one of"),
        (["--format", "parquet"], "give --out"),
        (["--out", str(tmp_path / "missing" / "x.jsonl")], "does not exist"),
        (["--since", "yesterday-ish"], "since: expected a date"),
    ):
        res = runner.invoke(app, ["export", "--store", filled, *args])
        assert res.exit_code == 2 and message in res.stderr, (args, res.output)
    assert not list(tmp_path.glob("*.partial"))


def test_gc_dry_run_then_delete_rows_and_old_trail_files(filled, store, tmp_path):
    trail = tmp_path / "trail"
    trail.mkdir()
    today = datetime.now(UTC).date()
    for day in (today - timedelta(days=90), today - timedelta(days=10), today):
        (trail / f"{day.isoformat()}.jsonl").write_text("{}\n")
    (trail / "notes.txt").write_text("keep me")
    dry = runner.invoke(
        app, ["gc", "--older-than", "30d", "--dry-run", "--json", "--store", filled, "--trail-dir", str(trail)]
    )
    plan = json.loads(dry.stdout)
    assert plan["rows"]["traces"] == 1 and plan["rows"]["decisions"] == 1 and plan["deleted"] is False
    assert [Path(p).name for p in plan["trail_files"]] == [f"{today - timedelta(days=90)}.jsonl"]
    assert store.counts()["traces"] == 3 and len(list(trail.iterdir())) == 4  # nothing changed
    refused = runner.invoke(app, ["gc", "--older-than", "30d", "--store", filled, "--trail-dir", str(trail)])
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    done = runner.invoke(
        app, ["gc", "--older-than", "30d", "--yes", "--json", "--store", filled, "--trail-dir", str(trail)]
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["rows"]["traces"] == 1
    counts = store.counts()
    assert counts["traces"] == 2 and counts["decisions"] == 0 and counts["spans"] == 2 + 3
    assert sorted(p.name for p in trail.iterdir()) == sorted(
        [f"{today - timedelta(days=10)}.jsonl", f"{today}.jsonl", "notes.txt"]
    )


def test_gc_bad_ages(filled):
    for age in ("0d", "soon", "-5d", ""):
        res = runner.invoke(app, ["gc", "--older-than", age, "--dry-run", "--store", filled])
        assert res.exit_code == 2, (age, res.output)


@given(st.integers(min_value=1, max_value=400))
def test_old_trail_files_never_include_today_or_newer(days):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        today = datetime.now(UTC).date()
        for back in (0, days - 1, days, days + 1):
            (Path(d) / f"{(today - timedelta(days=back)).isoformat()}.jsonl").write_text("")
        cutoff = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
        found = {p.name for p, _ in old_trail_files(d, cutoff)}
        assert f"{today}.jsonl" not in found
        assert all(datetime.fromisoformat(n[:10]).date() < cutoff.date() for n in found)
        assert os.path.isdir(d)


def test_gc_prunes_drift_results_and_resolved_alerts_of_no_run_by_age(store, store_url):
    """A store holding no old run still sheds its old drift results and long-resolved drift alerts;
    recent results, open alerts and recently resolved ones stay."""
    from sqlalchemy import func, select

    from glassbox.model import Alert
    from glassbox.monitoring import drift
    from glassbox.store.alerts import add_alerts, list_alerts, resolve_key
    from glassbox.store.tables.feedback import drift_results

    now = datetime.now(UTC).replace(tzinfo=None)
    for days in (60, 0):
        result = drift.FieldDrift("confidence", "ok", "none", 100, 100, method="ks", score=0.5, threshold=0.05)
        drift.save_report(store, drift.DriftReport(f"check{days}", None, now - timedelta(days=days), {}, {}, [result]))
    old_ns = int((now - timedelta(days=60)).replace(tzinfo=UTC).timestamp() * 1e9)
    for i, key in enumerate(("drift:old-resolved", "drift:old-open", "drift:recently-resolved")):
        add_alerts(store, [Alert(f"alert{i}", "drift", "confidence", key, at_ns=old_ns, key=key)])
    resolve_key(store, "drift:old-resolved", at=now - timedelta(days=59))
    resolve_key(store, "drift:recently-resolved", at=now - timedelta(days=1))

    dry = runner.invoke(app, ["gc", "--older-than", "30d", "--dry-run", "--json", "--store", store_url])
    rows = json.loads(dry.stdout)["rows"]
    assert (rows["traces"], rows.get("drift_results"), rows["alerts"]) == (0, 1, 1)
    done = runner.invoke(app, ["gc", "--older-than", "30d", "--yes", "--json", "--store", store_url])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["deleted"] is True
    with store.engine.connect() as conn:
        kept = conn.execute(select(drift_results.c.check_id, func.count()).group_by(drift_results.c.check_id)).all()
    assert kept == [("check0", 1)]
    assert sorted(a.message for a in list_alerts(store)) == ["drift:old-open", "drift:recently-resolved"]
