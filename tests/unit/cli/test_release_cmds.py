"""glassbox gate / canary check / golden: verdicts, exit codes (0 pass, 1 fail, 2 bad input, 3 inconclusive)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glassbox.cli.app import app

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "evaluation"))
from populations import population

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def filled(store, store_url):
    store.write_traces(population("2026.11", 300, seed=21))
    store.write_traces(population("2026.12", 300, seed=22))
    store.write_traces(population("2027.01", 300, seed=23, error_rate=0.12, latency=330.0, quality=0.65))
    store.write_traces(population("tiny", 8, seed=24))
    return store_url


def test_gate_pass_fail_and_not_enough_data(filled):
    ok = run(
        "gate",
        "--baseline",
        "release=2026.11",
        "--candidate",
        "release=2026.12",
        "--max-error-rate",
        "+1pp",
        "--max-p95",
        "+20%",
        "--min-quality",
        "-0.05",
        "--store",
        filled,
    )
    assert ok.exit_code == 0, ok.output
    assert "verdict: pass" in ok.output
    bad = run(
        "gate",
        "--baseline",
        "release=2026.11",
        "--candidate",
        "release=2027.01",
        "--max-error-rate",
        "+1pp",
        "--max-p95",
        "+20%",
        "--min-quality",
        "-0.05",
        "--store",
        filled,
        "--json",
    )
    assert bad.exit_code == 1
    doc = json.loads(bad.output)
    assert doc["verdict"] == "fail"
    assert {m["name"]: m["classification"] for m in doc["metrics"]} == {
        "error_rate": "High",
        "latency_p95": "High",
        "quality": "Low",
    }
    few = run("gate", "--baseline", "release=2026.11", "--candidate", "tiny", "--store", filled)
    assert few.exit_code == 3 and "not_enough_data" in few.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--max-p95", "twenty"), "--max-p95: expected a change like +1pp"),
        (("--baseline", "colour=red"), "unknown selector 'colour'"),
    ],
)
def test_gate_bad_input_exits_2(filled, args, message):
    base = {"--baseline": "release=2026.11", "--candidate": "release=2026.12"}
    extra = list(args)
    if args[0] in base:
        base[args[0]] = args[1]
        extra = []
    res = run("gate", *[x for kv in base.items() for x in kv], *extra, "--store", filled)
    assert res.exit_code == 2
    assert message in res.output


def test_canary_promote_hold_rollback(filled):
    res = run("canary", "check", "--baseline", "2026.11", "--canary", "2026.12", "--store", filled)
    assert res.exit_code == 0, res.output
    assert "decision: PROMOTE: go to 25%" in res.output
    bad = run("canary", "check", "--baseline", "2026.11", "--canary", "2027.01", "--store", filled, "--json")
    assert bad.exit_code == 1
    assert json.loads(bad.output)["decision"] == "rollback"
    hold = run("canary", "check", "--baseline", "2026.11", "--canary", "tiny", "--store", filled)
    assert hold.exit_code == 3 and "HOLD" in hold.output
    assert run("canary", "check", "--baseline", "a", "--canary", "b", "--ramp", "5,1", "--store", filled).exit_code == 2


def test_golden_commands(filled, store, tmp_path):
    trace_id = population("2026.11", 1, seed=21)[0].trace_id
    cap = run("golden", "capture", trace_id, "--name", "ref", "--meta", "owner=ops", "--store", filled)
    assert cap.exit_code == 0, cap.output
    listed = json.loads(run("golden", "list", "--store", filled, "--json").output)
    assert [(g["name"], g["metadata"], g["project"]) for g in listed] == [("ref", {"owner": "ops"}, "default")]
    exported = run("golden", "export", "--store", filled, "-o", "goldens.jsonl")
    assert exported.exit_code == 0
    imported = run("golden", "import", "goldens.jsonl", "--store", filled)
    assert imported.output.strip() == "imported 1 golden"
    quiet = run("golden", "check", "--since", "2030-01-01", "--store", filled)
    assert quiet.exit_code == 0 and "0 runs checked" in quiet.output
    # the other runs of the workflow differ in latency (lognormal): breaches, exit 1
    loud = run("golden", "check", "--since", "2020-01-01", "--limit", "5", "--store", filled, "--json")
    assert loud.exit_code == 1
    doc = json.loads(loud.output)
    assert doc["checked"] == 5 and doc["breaches"] >= 1
    missing = run("golden", "check", "--name", "nope", "--store", filled)
    assert missing.exit_code == 2 and "no golden 'nope'" in missing.output


def test_golden_capture_keeps_the_traces_project(store, store_url):
    t = population("r", 1, seed=41, project="shop")[0]
    store.write_traces([t])
    assert run("golden", "capture", t.trace_id, "--name", "g", "--store", store_url).exit_code == 0
    listed = json.loads(run("golden", "list", "--store", store_url, "--json").output)
    assert [(g["name"], g["project"]) for g in listed] == [("g", "shop")]
